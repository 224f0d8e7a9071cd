//! Deterministic float math for simulation code: the same bits on every platform.
//!
//! `+ - * /`, `sqrt`, `mul_add`, `abs`, `floor`/`ceil`/`round`, `min`/`max` and conversions
//! are exact (IEEE 754 specifies their results), so they are safe in `f32` everywhere, and
//! so are glam's vector operations built from them (`length`, `normalize`, `dot`, …).
//! Transcendental functions are not: `f32::sin`, `cos`, `atan2`, `powf`, `exp`, `ln` call the
//! platform's math library, whose last bits differ between targets (and even between libc
//! versions), and glam's `Vec2::from_angle` / `to_angle` use them too. A recording made on
//! one machine then diverges on another. These functions come from the `libm` crate, a
//! portable implementation in Rust that gives the same bits on every target; use them in
//! everything that feeds the simulation (drawing may use anything).
//!
//! ```
//! use tickbus::math;
//!
//! let heading = math::from_angle(std::f32::consts::FRAC_PI_2);
//! assert!((heading.y - 1.0).abs() < 1e-6);
//! assert_eq!(math::powf(0.5, 2.0), 0.25);
//! ```

use glam::Vec2;

/// Sine (libm's `sinf`).
pub fn sin(x: f32) -> f32 {
    libm::sinf(x)
}

/// Cosine (libm's `cosf`).
pub fn cos(x: f32) -> f32 {
    libm::cosf(x)
}

/// The angle of `(x, y)` from the x axis, in `(-π, π]` (libm's `atan2f`).
pub fn atan2(y: f32, x: f32) -> f32 {
    libm::atan2f(y, x)
}

/// `base` to the power `exponent` (libm's `powf`).
pub fn powf(base: f32, exponent: f32) -> f32 {
    libm::powf(base, exponent)
}

/// `e` to the power `x` (libm's `expf`).
pub fn exp(x: f32) -> f32 {
    libm::expf(x)
}

/// The unit vector at `angle` radians from the x axis: glam's `Vec2::from_angle` without
/// the platform's math library.
pub fn from_angle(angle: f32) -> Vec2 {
    Vec2::new(cos(angle), sin(angle))
}

/// The angle of `v` from the x axis: glam's `Vec2::to_angle` without the platform's math
/// library.
pub fn to_angle(v: Vec2) -> f32 {
    atan2(v.y, v.x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_the_portable_ones() {
        // Bits libm gives on every target (checked against its own reference values).
        assert_eq!(sin(1.0).to_bits(), libm::sinf(1.0).to_bits());
        assert_eq!(from_angle(0.0), Vec2::X);
        assert_eq!(to_angle(Vec2::Y), std::f32::consts::FRAC_PI_2);
        assert_eq!(powf(2.0, 10.0), 1024.0);
    }
}
