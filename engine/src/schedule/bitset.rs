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
    }
}
