//! 2D physics (glam): bodies, colliders, a broadphase, and typed contact events.
