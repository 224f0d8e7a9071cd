//! A fixed-size bit set over system indices (reachability rows, conflict rows).

/// Bits `0..len`, packed in words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(crate) fn with_len(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(crate) fn insert(&mut self, bit: usize) {
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    pub(crate) fn remove(&mut self, bit: usize) {
        self.words[bit / 64] &= !(1 << (bit % 64));
    }

    pub(crate) fn contains(&self, bit: usize) -> bool {
        self.words
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    pub(crate) fn union_with(&mut self, other: &BitSet) {
        for (word, other) in self.words.iter_mut().zip(&other.words) {
            *word |= other;
        }
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// The set bits, in ascending order.
    pub(crate) fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(index, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    index * 64 + bit
                })
            })
        })
    }
}

/// `rows[to] |= rows[from]` for two rows of one table.
pub(crate) fn union_rows(rows: &mut [BitSet], to: usize, from: usize) {
    if to == from {
        return;
    }
    let (to_row, from_row) = if to < from {
        let (low, high) = rows.split_at_mut(from);
        (&mut low[to], &high[0])
    } else {
        let (low, high) = rows.split_at_mut(to);
        (&mut high[0], &low[from])
    };
    to_row.union_with(from_row);
}

#[cfg(test)]
mod tests {
    use super::BitSet;

    #[test]
    fn insert_contains_union() {
        let mut a = BitSet::with_len(130);
        a.insert(0);
        a.insert(129);
        let mut b = BitSet::with_len(130);
        b.insert(64);
        a.union_with(&b);
        assert!(a.contains(64) && a.contains(129) && !a.contains(1));
        assert!(!a.contains(5000), "out of range is simply absent");
        assert!(a.contains(0));
        assert_eq!(a.ones().collect::<Vec<_>>(), [0, 64, 129]);
        a.remove(64);
        assert_eq!(a.ones().collect::<Vec<_>>(), [0, 129]);
    }

    #[test]
    fn union_of_rows_in_either_direction() {
        let mut rows = vec![BitSet::with_len(70); 3];
        rows[0].insert(1);
        rows[2].insert(69);
        super::union_rows(&mut rows, 2, 0);
        super::union_rows(&mut rows, 0, 2);
        super::union_rows(&mut rows, 1, 1);
        assert_eq!(rows[0].ones().collect::<Vec<_>>(), [1, 69]);
        assert_eq!(rows[2].ones().collect::<Vec<_>>(), [1, 69]);
        assert_eq!(rows[1].ones().count(), 0);
    }
}
