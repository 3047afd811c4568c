#pragma once
// Hosting capacity (接入容量核定): how many more private piles the transformer can take with
// orderly charging and without it, at a chosen confidence. Monte Carlo over sampled days; the
// method and its assumptions are in docs/capacity.md. Pure and seeded: no I/O, no clock, the same
// inputs and seed give the same answer.
#include <array>
#include <chrono>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "orderly/base/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"
#include "orderly/scheduler/problem.hpp"

namespace orderly::gateway {

// Non-EV load of the transformer, one profile per local day, slot 0 starting at 00:00 local.
struct BaseLoadHistory {
  int slot_minutes = 15;
  std::vector<std::vector<double>> days_kw;       // [day][slot of day]
  std::vector<std::chrono::sys_days> dates;       // local date of each day (selects the tariff)
  bool synthetic = false;
};

// Averages of power_w per slot of each local day. Only days with a sample in every slot are kept,
// so a day the meter was offline does not look like a quiet day.
BaseLoadHistory base_load_from_samples(const std::vector<MeterSample>& samples,
                                       std::chrono::minutes utc_offset, int slot_minutes = 15);

// A residential profile (demo::base_load_w: night trough, evening peak) peaking at `peak_kw`,
// scaled by a seeded day-to-day factor of 0.85-1.05, over `days` days from 2025-01-01 a week
// apart (so the tariff's seasons are all visited).
BaseLoadHistory synthetic_base_load(double peak_kw, int days, std::chrono::minutes utc_offset,
                                    std::uint64_t seed, int slot_minutes = 15);

// What the configured piles drew, taken off a metered base load: the transformer meter measured
// their charging, and the estimate simulates those piles again on top.
struct PileLoadSubtraction {
  double energy_kwh = 0;                      // taken off, over all days
  std::size_t pile_slots = 0;                 // (configured pile, slot) pairs looked at
  std::size_t pile_slots_without_data = 0;    // ... with no charger sample: nothing taken off
  std::size_t slots_clamped = 0;              // slots where the piles' sum exceeded the meter
};

// Takes each configured pile's average sampled power per slot off the base load of the same local
// day and slot, in place. A pile with no sample (or no power reading) in a slot has nothing taken
// off there: its charging, if any, stays in the base load, which errs toward fewer new piles.
// A slot never goes below 0 (meter and charger samples are not taken at the same instant).
// Samples of chargers not in `charger_ids` (no longer configured, so not simulated) stay in.
PileLoadSubtraction subtract_pile_load(BaseLoadHistory& base,
                                       const std::vector<ChargerSample>& samples,
                                       const std::vector<std::string>& charger_ids,
                                       std::chrono::minutes utc_offset);

// One stored session reduced to what a simulated pile draws. Drawn whole, so a car's arrival,
// stay and energy stay correlated (the evening arrival that stays the night and takes the most).
struct SessionSample {
  int arrival_minute = 0;                     // local minute of the day it plugged in, 0-1439
  std::chrono::minutes stay{};                // plug-in to unplug
  double energy_kwh = 0;                      // delivered
  bool weekend = false;                       // plugged in on a local Saturday or Sunday
};

// Enough plausible closed private-pile sessions to draw from instead of the fitted statistics.
// Why 30: the answer rests on the mean energy and the arrival spread of many cars together; with
// 30 sessions the sample mean is within 1.96 / sqrt(30) = 0.36 standard deviations of the true one
// at 95 % and the arrival deciles hold 3 each. A floor, not a guarantee (docs/capacity.md): below
// it a few early adopters would stand for every new household.
inline constexpr std::size_t kMinStoredSessions = 30;
// Below this many a session is no stay (a plug-in tried and pulled out, a test).
inline constexpr std::chrono::minutes kMinPlausibleStay{5};
// Longer is a car parked over a holiday or a session never closed properly.
inline constexpr std::chrono::hours kMaxPlausibleStay{7 * 24};
// Less is no charge (car already full, RFID test, fault); leaving those out errs toward fewer piles.
inline constexpr double kMinPlausibleEnergyKwh = 0.1;

// Where the simulated cars come from.
struct SessionStatistics {
  std::vector<SessionSample> sessions;        // empty: the fitted statistics
  std::size_t closed_private = 0;             // closed private-pile sessions offered
  bool by_day_type = false;                   // weekdays and weekends drawn apart
  std::string warning;                        // why the fitted statistics are used; else empty
};

// The plausible closed private-pile sessions of `closed` (shared piles, open sessions, stays or
// energies out of the ranges above are left out). With fewer than `min_sessions` of them, none
// are returned and `warning` says why. Weekdays and weekends are drawn apart when each has
// `min_sessions` of its own.
SessionStatistics session_statistics(const std::vector<SessionRecord>& closed,
                                     std::chrono::minutes utc_offset,
                                     std::size_t min_sessions = kMinStoredSessions);

struct CapacitySite {
  double limit_kw = 0;                        // transformer limit
  double safety_margin_kw = 0;                // kept free, as the live control does
  std::chrono::minutes utc_offset{8 * 60};
  TariffConfig tariff;                        // the orderly plan minimises cost under it
  std::vector<double> existing_pile_kw;       // max power of every configured pile
  // Phases, where the transformer's are limited (docs/capacity.md): the limits (margin not yet
  // subtracted), how the base load splits over A, B, C, and the phases of each configured pile
  // (empty: all balanced three-phase). New single-phase piles go on the least loaded phase.
  std::array<std::optional<double>, 3> phase_limit_kw{};
  std::array<double, 3> base_load_phase_split{1.0 / 3, 1.0 / 3, 1.0 / 3};
  std::vector<scheduler::PhaseSet> existing_pile_phases;
  BaseLoadHistory base_load;                  // at least one day
  // Cars drawn from these whole sessions; empty: from the fitted statistics
  // (demo::generate_visits). session_statistics() applies the threshold; this takes any.
  std::vector<SessionSample> stored_sessions;
  bool sessions_by_day_type = false;          // draw a weekend day's car from weekend sessions
};

struct CapacityOptions {
  double confidence = 0.95;                   // share of sampled days that must pass, (0, 1]
  int days = 50;                              // sampled days
  std::uint64_t seed = 1;
  double pile_kw = 7;                         // each new pile
  int max_new_piles = 2000;                   // search ceiling per day
};

struct CapacityResult {
  int orderly_new_piles = 0;
  int uncontrolled_new_piles = 0;
  // Largest number of new piles each sampled day passes with (-1: fails even with none).
  std::vector<int> orderly_by_day;
  std::vector<int> uncontrolled_by_day;
  bool orderly_at_ceiling = false;            // the answer is max_new_piles: a lower bound
  bool overloaded_without_new_piles = false;  // uncontrolled fails with N = 0 too often
  long long planner_runs = 0;
};

// A car that pile simulation draws on one sampled day.
struct SimulatedVisit {
  TimePoint arrive{};
  TimePoint depart{};
  double energy_kwh = 0;                      // what the car wants, before the pile's clamp
};

// The cars of one pile of `pile_kw` arriving in the 24 hours from local noon of `date`: one
// arrival drawn per local day, never two cars at once. From site.stored_sessions when there are
// any, else the fitted statistics. Depends only on its arguments, so a pile's cars do not change
// with how many other piles are simulated.
std::vector<SimulatedVisit> pile_visits(const CapacitySite& site, std::chrono::sys_days date,
                                        double pile_kw, std::uint64_t seed);

// The phases the study puts each pile on: the configured piles as given; a new pile of up to
// 7.4 kW (32 A on one phase) is single-phase and goes on the phase with the least pile power so
// far (three-phase piles count a third on each), as an installer balancing the phases would;
// a larger one is three-phase.
std::vector<scheduler::PhaseSet> pile_phases(const CapacitySite& site, double new_pile_kw, int new_piles);

// Throws std::invalid_argument for options or a site out of range (naming the field).
CapacityResult estimate_hosting_capacity(const CapacitySite& site, const CapacityOptions& options);

// The largest N passed by at least `confidence` of the days, given each day's largest passing N
// (-1 = none): the k-th largest, k = ceil(confidence x days). -1 when that day fails even N = 0.
int capacity_at_confidence(std::vector<int> max_by_day, double confidence);

}  // namespace orderly::gateway
