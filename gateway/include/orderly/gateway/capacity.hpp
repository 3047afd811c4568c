#pragma once
// Hosting capacity (接入容量核定): how many more private piles the transformer can take with
// orderly charging and without it, at a chosen confidence. Monte Carlo over sampled days; the
// method and its assumptions are in docs/capacity.md. Pure and seeded: no I/O, no clock, the same
// inputs and seed give the same answer.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orderly/drivers/clock.hpp"
#include "orderly/gateway/config.hpp"
#include "orderly/gateway/store.hpp"

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

struct CapacitySite {
  double limit_kw = 0;                        // transformer limit
  double safety_margin_kw = 0;                // kept free, as the live control does
  std::chrono::minutes utc_offset{8 * 60};
  TariffConfig tariff;                        // the orderly plan minimises cost under it
  std::vector<double> existing_pile_kw;       // max power of every configured pile
  BaseLoadHistory base_load;                  // at least one day
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

// Throws std::invalid_argument for options or a site out of range (naming the field).
CapacityResult estimate_hosting_capacity(const CapacitySite& site, const CapacityOptions& options);

// The largest N passed by at least `confidence` of the days, given each day's largest passing N
// (-1 = none): the k-th largest, k = ceil(confidence x days). -1 when that day fails even N = 0.
int capacity_at_confidence(std::vector<int> max_by_day, double confidence);

}  // namespace orderly::gateway
