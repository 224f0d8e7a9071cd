//! Narrowphase: the exact shape test of every broadphase pair, and the contacts it yields.

use glam::Vec2;

use super::{Aabb, Collider};

/// How two shapes touch: moving the second along `normal` by `depth` (or the first the other
/// way) separates them. `depth` is 0 for shapes that just touch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penetration {
    /// Unit vector from the first shape towards the second.
    pub normal: Vec2,
    /// Overlap along `normal`, ≥ 0.
    pub depth: f32,
}

/// The contact between `a` centred on `pa` and `b` centred on `pb`, if they touch or overlap.
pub fn collide(a: &Collider, pa: Vec2, b: &Collider, pb: Vec2) -> Option<Penetration> {
    match (*a, *b) {
        (Collider::Circle { radius: ra }, Collider::Circle { radius: rb }) => {
            circle_circle(pa, ra, pb, rb)
        }
        (Collider::Circle { radius }, Collider::Box { .. }) => circle_box(pa, radius, &b.aabb(pb)),
        (Collider::Box { .. }, Collider::Circle { radius }) => {
            circle_box(pb, radius, &a.aabb(pa)).map(flipped)
        }
        (Collider::Box { .. }, Collider::Box { .. }) => box_box(&a.aabb(pa), &b.aabb(pb)),
    }
}

fn flipped(p: Penetration) -> Penetration {
    Penetration {
        normal: -p.normal,
        depth: p.depth,
    }
}

fn circle_circle(pa: Vec2, ra: f32, pb: Vec2, rb: f32) -> Option<Penetration> {
    let offset = pb - pa;
    let distance = offset.length();
    let reach = ra + rb;
    // Concentric circles have no direction of their own; any fixed one keeps it deterministic.
    let normal = offset.try_normalize().unwrap_or(Vec2::X);
    // False for NaN, so a broken position touches nothing.
    (distance <= reach).then_some(Penetration {
        normal,
        depth: reach - distance,
    })
}

/// A circle (first) against a box (second).
fn circle_box(center: Vec2, radius: f32, aabb: &Aabb) -> Option<Penetration> {
    if !(center.is_finite() && aabb.min.is_finite() && aabb.max.is_finite()) {
        return None;
    }
    let closest = center.clamp(aabb.min, aabb.max);
    let offset = closest - center;
    if offset != Vec2::ZERO {
        let distance = offset.length();
        return (distance <= radius).then(|| Penetration {
            normal: offset / distance,
            depth: radius - distance,
        });
    }
    Some(circle_inside_box(center, radius, aabb))
}

/// The centre is inside the box: the circle leaves through the nearest face, so the normal
/// (circle → box) points the other way.
fn circle_inside_box(center: Vec2, radius: f32, aabb: &Aabb) -> Penetration {
    let faces = [
        (center.x - aabb.min.x, Vec2::X),
        (aabb.max.x - center.x, Vec2::NEG_X),
        (center.y - aabb.min.y, Vec2::Y),
        (aabb.max.y - center.y, Vec2::NEG_Y),
    ];
    let (distance, normal) =
        faces.into_iter().fold(
            faces[0],
            |best, face| if face.0 < best.0 { face } else { best },
        );
    Penetration {
        normal,
        depth: distance + radius,
    }
}

fn box_box(a: &Aabb, b: &Aabb) -> Option<Penetration> {
    if !a.overlaps(b) {
        return None;
    }
    let overlap = a.max.min(b.max) - a.min.max(b.min);
    let towards_b = (b.min + b.max) - (a.min + a.max);
    let sign = |delta: f32| if delta < 0.0 { -1.0 } else { 1.0 };
    Some(if overlap.x <= overlap.y {
        Penetration {
            normal: Vec2::new(sign(towards_b.x), 0.0),
            depth: overlap.x,
        }
    } else {
        Penetration {
            normal: Vec2::new(0.0, sign(towards_b.y)),
            depth: overlap.y,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn circle(r: f32) -> Collider {
        Collider::circle(r)
    }

    fn v(x: f32, y: f32) -> Vec2 {
        Vec2::new(x, y)
    }

    #[test]
    fn circles_overlapping_touching_and_separated() {
        let hit = collide(&circle(1.0), v(0.0, 0.0), &circle(1.0), v(1.5, 0.0)).unwrap();
        assert_eq!(hit.normal, Vec2::X);
        assert!((hit.depth - 0.5).abs() < 1e-6);
        let touch = collide(&circle(1.0), v(0.0, 0.0), &circle(2.0), v(0.0, -3.0)).unwrap();
        assert_eq!((touch.normal, touch.depth), (Vec2::NEG_Y, 0.0));
        assert_eq!(
            collide(&circle(1.0), v(0.0, 0.0), &circle(1.0), v(2.01, 0.0)),
            None
        );
        let same = collide(&circle(1.0), v(3.0, 3.0), &circle(1.0), v(3.0, 3.0)).unwrap();
        assert_eq!((same.normal, same.depth), (Vec2::X, 2.0));
    }

    #[test]
    fn boxes_separate_along_the_axis_of_least_overlap() {
        let a = Collider::rect(2.0, 2.0);
        let hit = collide(&a, v(0.0, 0.0), &a, v(1.5, -0.25)).unwrap();
        assert_eq!((hit.normal, hit.depth), (Vec2::X, 0.5));
        let hit = collide(&a, v(0.0, 0.0), &a, v(0.25, -1.75)).unwrap();
        assert_eq!((hit.normal, hit.depth), (Vec2::NEG_Y, 0.25));
        let touch = collide(&a, v(0.0, 0.0), &a, v(-2.0, 1.0)).unwrap();
        assert_eq!((touch.normal, touch.depth), (Vec2::NEG_X, 0.0));
        assert_eq!(collide(&a, v(0.0, 0.0), &a, v(0.0, 2.5)), None);
    }

    #[test]
    fn circle_against_box_faces_corners_and_inside() {
        let b = Collider::rect(4.0, 2.0); // x in [-2, 2], y in [-1, 1] around the origin
        let face = collide(&circle(1.0), v(-2.5, 0.0), &b, v(0.0, 0.0)).unwrap();
        assert_eq!((face.normal, face.depth), (Vec2::X, 0.5));
        // Corner (2, 1): the circle at (3, 2) is √2 ≈ 1.414 away.
        let corner = collide(&circle(1.5), v(3.0, 2.0), &b, v(0.0, 0.0)).unwrap();
        assert!((corner.normal - v(-1.0, -1.0).normalize()).length() < 1e-6);
        assert!((corner.depth - (1.5 - 2f32.sqrt())).abs() < 1e-6);
        assert_eq!(collide(&circle(1.0), v(3.0, 2.0), &b, v(0.0, 0.0)), None);
        let touch = collide(&circle(1.0), v(0.0, 2.0), &b, v(0.0, 0.0)).unwrap();
        assert_eq!((touch.normal, touch.depth), (Vec2::NEG_Y, 0.0));
        // Centre inside, nearest the top face (0.25 away): pushed up, normal down.
        let inside = collide(&circle(0.5), v(0.5, 0.75), &b, v(0.0, 0.0)).unwrap();
        assert_eq!((inside.normal, inside.depth), (Vec2::NEG_Y, 0.75));
    }

    #[test]
    fn box_against_circle_is_the_mirror_image() {
        let b = Collider::rect(4.0, 2.0);
        let hit = collide(&b, v(0.0, 0.0), &circle(1.0), v(-2.5, 0.0)).unwrap();
        assert_eq!((hit.normal, hit.depth), (Vec2::NEG_X, 0.5));
    }

    #[test]
    fn nan_positions_touch_nothing() {
        let nan = v(f32::NAN, 0.0);
        assert_eq!(collide(&circle(1.0), nan, &circle(1.0), v(0.0, 0.0)), None);
        assert_eq!(
            collide(&circle(1.0), nan, &Collider::rect(1.0, 1.0), v(0.0, 0.0)),
            None
        );
        let rect = Collider::rect(1.0, 1.0);
        assert_eq!(collide(&rect, nan, &rect, v(0.0, 0.0)), None);
        assert_eq!(collide(&rect, nan, &circle(1.0), v(0.0, 0.0)), None);
    }
}
