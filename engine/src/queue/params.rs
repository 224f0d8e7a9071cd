//! The bevy_ecs [`SystemParam`] impls of [`EventReader`] and [`EventWriter`]: the queue's only
//! unsafe code. The reader forwards to bevy's own `Res` impl; the writer touches only its
//! system's private buffer while the system runs and the world only in `apply`, which holds
//! `&mut World`.

use bevy_ecs::{
    change_detection::Tick,
    component::ComponentId,
    system::{
        ReadOnlySystemParam, Res, SystemAccess, SystemMeta, SystemParam, SystemParamValidationError,
    },
    world::{World, unsafe_world_cell::UnsafeWorldCell},
};

use super::{
    buffer::SpareBuffer,
    early::WriterFolds,
    registry::{ensure_queue, with_queue},
};
use crate::{Event, EventQueue, EventReader, EventWriter};

// SAFETY: all access goes through `Res<EventQueue<T>>`'s own impl: `init_access` registers a
// shared read of the queue resource and `get_param` only reads it, through that impl.
unsafe impl<T: Event> SystemParam for EventReader<'_, T> {
    type State = ComponentId;
    type Item<'w, 's> = EventReader<'w, T>;

    fn init_state(world: &mut World) -> Self::State {
        ensure_queue::<T>(world);
        <Res<EventQueue<T>> as SystemParam>::init_state(world)
    }

    fn init_access(
        state: &Self::State,
        system_meta: &mut SystemMeta,
        system_access: &mut SystemAccess,
        world: &mut World,
    ) {
        <Res<EventQueue<T>> as SystemParam>::init_access(state, system_meta, system_access, world);
    }

    unsafe fn get_param<'w, 's>(
        state: &'s mut Self::State,
        system_meta: &SystemMeta,
        world: UnsafeWorldCell<'w>,
        change_tick: Tick,
    ) -> Result<Self::Item<'w, 's>, SystemParamValidationError> {
        // SAFETY: our caller upholds `get_param`'s contract for this param, whose access is
        // exactly that of `Res<EventQueue<T>>` with the same state.
        let queue = unsafe {
            <Res<EventQueue<T>> as SystemParam>::get_param(state, system_meta, world, change_tick)
        }?
        .into_inner();
        queue.mark_consumed();
        Ok(EventReader { queue })
    }
}

// SAFETY: `EventReader` only reads the queue resource (`mark_consumed` is an atomic flag).
unsafe impl<T: Event> ReadOnlySystemParam for EventReader<'_, T> {}

// SAFETY: `get_param` touches no world data, only the system's own state, so registering no
// access is correct; the world is written only in `apply`, which holds `&mut World`.
unsafe impl<T: Event> SystemParam for EventWriter<'_, T> {
    type State = WriterState<T>;
    type Item<'w, 's> = EventWriter<'s, T>;

    fn init_state(world: &mut World) -> Self::State {
        ensure_queue::<T>(world);
        WriterState {
            buffer: Vec::new(),
            spare: world.resource::<EventQueue<T>>().spare(),
            folds: WriterFolds::new(world),
        }
    }

    fn init_access(
        _state: &Self::State,
        _system_meta: &mut SystemMeta,
        _system_access: &mut SystemAccess,
        _world: &mut World,
    ) {
    }

    fn apply(state: &mut Self::State, _system_meta: &SystemMeta, world: &mut World) {
        if state.buffer.is_empty() {
            return;
        }
        let (merge, readable) = with_queue::<T, _>(world, |queue| {
            if !queue.has_spare(&state.spare) {
                // The queue was replaced (a user removed or inserted it): take buffers from
                // the new one, or this writer's and the queue's buffers would never meet. (A
                // writer that writes nothing keeps the old slot until it writes: harmless.)
                state.spare = queue.spare();
            }
            (
                queue.merge_written(&mut state.buffer),
                queue.readable_merge(),
            )
        });
        state.folds.merged(world, merge, readable);
    }

    unsafe fn get_param<'w, 's>(
        state: &'s mut Self::State,
        _system_meta: &SystemMeta,
        _world: UnsafeWorldCell<'w>,
        _change_tick: Tick,
    ) -> Result<Self::Item<'w, 's>, SystemParamValidationError> {
        if state.buffer.is_empty() {
            state.spare.exchange(&mut state.buffer);
        }
        Ok(EventWriter {
            buffer: &mut state.buffer,
            folds: &mut state.folds,
        })
    }
}

/// A writer system's state: its private buffer, and the queue's spare slot through which it
/// takes the buffer the readers just finished (see [`EventQueue`]).
#[doc(hidden)]
pub struct WriterState<T: Event> {
    buffer: Vec<T>,
    spare: SpareBuffer<T>,
    folds: WriterFolds<T>,
}

impl<T: Event> std::fmt::Debug for WriterState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterState")
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}
