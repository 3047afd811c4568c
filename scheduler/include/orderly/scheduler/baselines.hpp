#pragma once
// Reference planners the exact planner is measured against. All are deterministic, take the
// problem as validated (see validate.hpp) and return a completed plan (charging_kw, kpi).
// Status: optimal when every session gets its energy, capacity_short otherwise.
#include "orderly/scheduler/problem.hpp"

namespace orderly::scheduler {

// What happens without orderly charging: every car charges at max_kw from arrival until its
// energy is in, ignoring every limit and the tariff. Never discharges.
Plan plan_uncontrolled(const Problem& problem);

// Earliest-deadline-first, slot by slot: in each slot the present cars, ordered by departure
// (then higher priority, then list order), each take as much as they still need, up to max_kw
// and the headroom left on every node from their charger to the root. As soon as possible,
// tariff-blind, never discharges.
Plan plan_edf(const Problem& problem);

// Least-laxity-first: as plan_edf, ordered by laxity = slots left before departure minus slots
// still needed at max_kw (then higher priority, then list order).
Plan plan_llf(const Problem& problem);

}  // namespace orderly::scheduler
