// Many flows, one timer queue: the sans-I/O core of the multiplexed driver
// (transport/multi_drive.hpp).
//
// A table of flow machines, a min-heap of their wake-up deadlines and a FIFO of flows that
// are ready to run. It owns no I/O and reads no clock: the driver says what time it is
// (`fire_due(now)`), takes ready flows (`take_ready`), hands each its event (`step`) and
// executes what comes back. A flow's `wait_until` is absorbed into the timer queue, so a
// waiting flow costs its machine plus one heap entry and one table slot, not a coroutine.
//
//   add(flow)           -> ready (event: started)
//   fire_due(now)       -> every flow whose deadline <= now becomes ready (timer_fired), in
//                          deadline order; equal deadlines in the order they were asked for
//   step(id, ev)        -> send_request / show_user: the caller answers with the next event;
//                          wait_until: queued (nothing to do); done / failed: the flow ended
//                          and its slot is free
//   cancel(id)          -> the flow is dropped now; a reply still in flight for it is ignored
#pragma once

#include <latchkey/flows/flow.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace latchkey::flows {

// A slot index plus the generation of its occupant, so an id of a flow that ended never
// names the flow that reuses the slot.
struct flow_id {
    std::uint32_t index = 0;
    std::uint32_t generation = 0;
    friend bool operator==(flow_id, flow_id) = default;
};

class flow_scheduler {
public:
    // A flow to run: started (no deadline) or woken by its timer at `deadline`.
    struct ready_flow {
        flow_id id;
        bool started = false;
        time_point deadline{};  // the wake-up it asked for (lateness = now - deadline)
    };

    flow_id add(std::unique_ptr<flow> f);
    // true if `id` was live; it is dropped at once (its machine destroyed).
    bool cancel(flow_id id);
    bool live(flow_id id) const noexcept;
    std::vector<flow_id> live_ids() const;

    // Moves every flow whose deadline is <= now to the ready queue.
    void fire_due(time_point now);
    // The earliest deadline of a live waiting flow (cancelled entries are discarded).
    std::optional<time_point> next_deadline();
    std::optional<ready_flow> take_ready();

    // Hands `ev` to flow `id` (which must be live). See the table at the top.
    action step(flow_id id, const event& ev);

    std::size_t live_count() const noexcept { return live_; }
    std::size_t waiting_count() const noexcept { return timers_.size(); }
    std::size_t ready_count() const noexcept { return ready_.size(); }

private:
    struct slot {
        std::unique_ptr<flow> machine;
        std::uint32_t generation = 0;
    };
    struct timer_entry {
        time_point deadline;
        std::uint64_t sequence;  // ties: first asked, first woken
        flow_id id;
    };
    static bool later(const timer_entry& a, const timer_entry& b) noexcept;
    void release(std::uint32_t index);

    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_;
    std::vector<timer_entry> timers_;  // a min-heap on (deadline, sequence)
    std::deque<ready_flow> ready_;
    std::uint64_t sequence_ = 0;
    std::size_t live_ = 0;
};

}  // namespace latchkey::flows
