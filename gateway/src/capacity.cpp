#include "orderly/gateway/capacity.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>

#include "demo_community.hpp"
#include "orderly/scheduler/baselines.hpp"
#include "orderly/scheduler/kpi.hpp"
#include "orderly/scheduler/planner.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;

// splitmix64 (Steele, Lea, Flood 2014): well-mixed independent seeds from (seed, day, pile), so
// pile i's sessions on day d do not depend on how many piles are simulated. That makes the
// N + 1 pile scenario a superset of the N pile one, and pass/fail monotone in N.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
std::uint64_t mix(std::uint64_t a, std::uint64_t b) { return mix(a ^ mix(b)); }

// The simulated window: arrivals from local noon for 24 h, planned over 36 h so overnight stays
// finish inside it. Later departures are cut at the window's end.
constexpr hours kArrivalWindow{24};
constexpr hours kHorizon{36};
constexpr hours kStartLocalHour{12};

TimePoint window_start(sys_days local_date, minutes utc_offset) {
  return TimePoint(local_date) + kStartLocalHour - utc_offset;
}

bool is_weekend(sys_days local_date) {
  const unsigned wd = weekday(local_date).c_encoding();  // 0 = Sunday
  return wd == 0 || wd == 6;
}

// A residential pile sees a new car no sooner than this after the last one left (as the
// fitted statistics' walk in demo::generate_visits).
constexpr minutes kTurnaround{10};

// Rejection sampling keeps the draw O(1) without per-call pools; a pool that holds no session of
// the wanted day type (not made by session_statistics) ends with the last draw instead of a hang.
constexpr int kMaxDayTypeTries = 1000;

struct Session {
  int arrival_slot = 0;
  int departure_slot = 0;
  double energy_kwh = 0;
  double max_kw = 0;
};

class Day {
 public:
  Day(const CapacitySite& site, const CapacityOptions& options, int index)
      : site_(site), options_(options), index_(index) {
    const auto& h = site.base_load;
    std::mt19937_64 rng(mix(options.seed, 0xBA5Eull + static_cast<std::uint64_t>(index)));
    const std::size_t pick = std::uniform_int_distribution<std::size_t>(0, h.days_kw.size() - 1)(rng);
    const auto& profile = h.days_kw[pick];
    slot_ = minutes(h.slot_minutes);
    date_ = h.dates[pick];
    from_ = window_start(date_, site.utc_offset);
    slots_ = static_cast<int>(kHorizon / slot_);
    const int per_day = static_cast<int>(profile.size());
    const int first = static_cast<int>(kStartLocalHour / slot_);
    problem_.slots = slots_;
    problem_.slot_minutes = static_cast<double>(h.slot_minutes);
    scheduler::CapacityNode root;
    root.id = "transformer";
    root.limit_kw.assign(static_cast<std::size_t>(slots_), site.limit_kw - site.safety_margin_kw);
    // The sampled day's profile repeats past midnight: one day's shape stands for the night too.
    for (int t = 0; t < slots_; ++t) {
      root.base_load_kw.push_back(profile[static_cast<std::size_t>((first + t) % per_day)]);
    }
    for (std::size_t ph = 0; ph < 3; ++ph) {
      if (!site.phase_limit_kw[ph]) continue;
      root.phase_limit_kw[ph].assign(static_cast<std::size_t>(slots_), *site.phase_limit_kw[ph] - site.safety_margin_kw);
      root.base_load_phase_kw[ph] = root.base_load_kw;
      for (auto& b : root.base_load_phase_kw[ph]) b *= site.base_load_phase_split[ph];
    }
    problem_.nodes.push_back(std::move(root));
    for (const auto& p : tariff_series(site.tariff, from_, slot_, slots_, site.utc_offset)) {
      problem_.price_per_kwh.push_back(p.price_yuan_per_kwh);
      problem_.period.push_back(p.period);
    }
  }

  // Piles 0..existing-1 are the configured ones, the rest new ones of options.pile_kw.
  bool passes(int new_piles, bool orderly) {
    const int piles = static_cast<int>(site_.existing_pile_kw.size()) + new_piles;
    scheduler::Problem p = problem_;
    const auto phases = pile_phases(site_, options_.pile_kw, new_piles);
    for (int i = 0; i < piles; ++i) {
      for (const auto& s : sessions_of(i)) {
        scheduler::EvRequest ev;
        ev.id = std::to_string(i);
        ev.phases = phases[static_cast<std::size_t>(i)];
        ev.arrival_slot = s.arrival_slot;
        ev.departure_slot = s.departure_slot;
        ev.energy_kwh = s.energy_kwh;
        ev.max_kw = s.max_kw;
        p.evs.push_back(std::move(ev));
      }
    }
    ++runs;
    if (!orderly) return scheduler::plan_uncontrolled(p).kpi.overload_slots == 0;
    // Feasibility is all that is asked: no valley filling, no rounding to whole amps (see
    // docs/capacity.md for why rounding is left out).
    scheduler::OptimalOptions o;
    o.valley_filling = false;
    o.round_setpoints = false;
    o.energy_unit_wh = 10;
    const auto plan = scheduler::plan_optimal(p, o);
    // The plan's own status allows 1 Wh short, but needs are floored to the 10 Wh unit; a
    // request counts as met within one unit. The overload check is recomputed, not trusted.
    const auto got_kwh = scheduler::delivered_kwh(p, plan);
    for (std::size_t e = 0; e < p.evs.size(); ++e) {
      if (got_kwh[e] < p.evs[e].energy_kwh - o.energy_unit_wh / 1000.0 - 1e-6) return false;
    }
    return scheduler::compute_kpi(p, plan).overload_slots == 0;
  }

  // Largest N in [0, max] that passes; -1 when even 0 fails. Exponential then binary search,
  // valid because passing is monotone in N (see mix()).
  // `known` is an N already known to pass (-1: none): the orderly search starts from the
  // uncontrolled answer, since a plan that charges as uncontrolled does is one orderly may pick.
  int max_passing(bool orderly, int known, bool& at_ceiling) {
    if (known < 0 && !passes(0, orderly)) return -1;
    int lo = std::max(known, 0);
    int hi = std::max(1, 2 * lo);
    while (true) {
      if (hi >= options_.max_new_piles) {
        if (passes(options_.max_new_piles, orderly)) {
          at_ceiling = true;
          return options_.max_new_piles;
        }
        hi = options_.max_new_piles;
        break;
      }
      if (!passes(hi, orderly)) break;
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {
      const int mid = lo + (hi - lo) / 2;
      (passes(mid, orderly) ? lo : hi) = mid;
    }
    return lo;
  }

  long long runs = 0;

 private:
  const std::vector<Session>& sessions_of(int pile) {
    while (static_cast<int>(sessions_.size()) <= pile) {
      const int i = static_cast<int>(sessions_.size());
      const double kw = i < static_cast<int>(site_.existing_pile_kw.size())
                            ? site_.existing_pile_kw[static_cast<std::size_t>(i)]
                            : options_.pile_kw;
      const auto seed = mix(mix(options_.seed, static_cast<std::uint64_t>(index_)),
                            static_cast<std::uint64_t>(i));
      std::vector<Session> out;
      for (const auto& v : pile_visits(site_, date_, kw, seed)) {
        Session s;
        s.arrival_slot = static_cast<int>((v.arrive - from_) / slot_);
        const auto depart = std::min(v.depart, from_ + kHorizon);
        s.departure_slot = std::min(slots_, static_cast<int>((depart - from_) / slot_));
        if (s.departure_slot <= s.arrival_slot) continue;  // under a slot: nothing to plan
        s.max_kw = kw;
        // A request is feasible on its own: what the pile can give in the slots it is present.
        const double hours_present =
            (s.departure_slot - s.arrival_slot) * problem_.slot_hours();
        s.energy_kwh = std::min(v.energy_kwh, kw * hours_present);
        out.push_back(s);
      }
      sessions_.push_back(std::move(out));
    }
    return sessions_[static_cast<std::size_t>(pile)];
  }

  const CapacitySite& site_;
  const CapacityOptions& options_;
  int index_ = 0;
  minutes slot_{15};
  sys_days date_{};
  TimePoint from_{};
  int slots_ = 0;
  scheduler::Problem problem_;
  std::vector<std::vector<Session>> sessions_;
};

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

std::vector<SimulatedVisit> pile_visits(const CapacitySite& site, sys_days date, double pile_kw,
                                        std::uint64_t seed) {
  const TimePoint from = window_start(date, site.utc_offset);
  const TimePoint to = from + kArrivalWindow;
  std::vector<SimulatedVisit> out;
  if (site.stored_sessions.empty()) {
    for (const auto& v :
         demo::generate_visits(1, pile_kw * 1000.0, from, to, site.utc_offset, seed)) {
      out.push_back({v.arrive, v.depart, v.energy_wh / 1000.0});
    }
    return out;
  }
  // The same walk as the fitted statistics: one car drawn per local day the window touches,
  // kept when it arrives inside the window and after the previous car left.
  const auto& pool = site.stored_sessions;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> any(0, pool.size() - 1);
  TimePoint free_from = from;
  for (sys_days d = date; TimePoint(d) - site.utc_offset < to; d += days(1)) {
    std::size_t pick = any(rng);
    for (int tries = 1; site.sessions_by_day_type && pool[pick].weekend != is_weekend(d) &&
                        tries < kMaxDayTypeTries;
         ++tries) {
      pick = any(rng);
    }
    const SessionSample& s = pool[pick];
    const TimePoint arrive = TimePoint(d) - site.utc_offset + minutes(s.arrival_minute);
    if (arrive < free_from || arrive >= to) continue;
    out.push_back({arrive, arrive + s.stay, s.energy_kwh});
    free_from = arrive + s.stay + kTurnaround;
  }
  return out;
}

SessionStatistics session_statistics(const std::vector<SessionRecord>& closed,
                                     minutes utc_offset, std::size_t min_sessions) {
  SessionStatistics st;
  std::vector<SessionSample> plausible;
  std::size_t weekend = 0;
  for (const auto& r : closed) {
    if (!r.is_private || !r.ended_at) continue;
    ++st.closed_private;
    const auto stay = floor<minutes>(*r.ended_at - r.started_at);
    const double kwh = r.energy_wh / 1000.0;
    if (stay < kMinPlausibleStay || stay > kMaxPlausibleStay) continue;
    if (!(kwh >= kMinPlausibleEnergyKwh)) continue;
    // More than the pile could have given in the stay (5 % and 0.1 kWh for meter tolerance):
    // a counter glitch, not a car.
    const double stay_h = duration<double, std::ratio<3600>>(stay).count();
    if (r.max_power_w > 0 && kwh > r.max_power_w / 1000.0 * stay_h * 1.05 + 0.1) continue;
    const auto local = r.started_at + utc_offset;
    const auto day = floor<days>(local);
    SessionSample s;
    s.arrival_minute = static_cast<int>(floor<minutes>(local - day).count());
    s.stay = stay;
    s.energy_kwh = kwh;
    s.weekend = is_weekend(day);
    weekend += s.weekend ? 1 : 0;
    plausible.push_back(s);
  }
  if (plausible.size() < min_sessions) {
    st.warning = "the store holds " + std::to_string(plausible.size()) +
                 " plausible closed session(s) of private piles (" + std::to_string(min_sessions) +
                 " needed; " + std::to_string(st.closed_private) +
                 " closed in all); drawing cars from statistics FITTED to a Norwegian residential "
                 "dataset instead. Rerun when more sessions have closed.";
    return st;
  }
  st.by_day_type = weekend >= min_sessions && plausible.size() - weekend >= min_sessions;
  st.sessions = std::move(plausible);
  return st;
}

PileLoadSubtraction subtract_pile_load(BaseLoadHistory& base,
                                       const std::vector<ChargerSample>& samples,
                                       const std::vector<std::string>& charger_ids,
                                       minutes utc_offset) {
  require(base.slot_minutes > 0 && 1440 % base.slot_minutes == 0,
          "base load: slot_minutes " + std::to_string(base.slot_minutes) + " must divide a day");
  const std::size_t per_day = static_cast<std::size_t>(1440 / base.slot_minutes);
  const std::size_t piles = charger_ids.size();
  std::map<sys_days, std::size_t> day_of;
  for (std::size_t d = 0; d < base.dates.size(); ++d) day_of[base.dates[d]] = d;
  std::map<std::string, std::size_t, std::less<>> pile_of;
  for (std::size_t p = 0; p < piles; ++p) pile_of.emplace(charger_ids[p], p);
  struct Acc {
    double sum_w = 0;
    int count = 0;
  };
  std::vector<Acc> acc(base.dates.size() * piles * per_day);
  for (const auto& s : samples) {
    if (!std::isfinite(s.power_w)) continue;
    const auto pile = pile_of.find(s.charger_id);
    if (pile == pile_of.end()) continue;
    const auto local = s.at + utc_offset;
    const auto day = day_of.find(floor<days>(local));
    if (day == day_of.end()) continue;
    const auto slot = static_cast<std::size_t>(
        duration_cast<minutes>(local - floor<days>(local)).count() / base.slot_minutes);
    auto& a = acc[(day->second * piles + pile->second) * per_day + slot];
    a.sum_w += s.power_w;
    a.count += 1;
  }
  PileLoadSubtraction out;
  const double slot_h = base.slot_minutes / 60.0;
  for (std::size_t d = 0; d < base.dates.size(); ++d) {
    for (std::size_t t = 0; t < per_day; ++t) {
      double piles_kw = 0;
      for (std::size_t p = 0; p < piles; ++p) {
        const auto& a = acc[(d * piles + p) * per_day + t];
        ++out.pile_slots;
        if (a.count == 0) {
          ++out.pile_slots_without_data;
          continue;
        }
        piles_kw += a.sum_w / a.count / 1000.0;
      }
      double& kw = base.days_kw[d][t];
      if (piles_kw > kw) ++out.slots_clamped;
      const double taken_kw = std::min(piles_kw, kw);
      kw -= taken_kw;
      out.energy_kwh += taken_kw * slot_h;
    }
  }
  return out;
}

BaseLoadHistory base_load_from_samples(const std::vector<MeterSample>& samples,
                                       minutes utc_offset, int slot_minutes) {
  require(slot_minutes > 0 && 1440 % slot_minutes == 0,
          "base load: slot_minutes " + std::to_string(slot_minutes) + " must divide a day");
  const int per_day = 1440 / slot_minutes;
  struct Acc {
    std::vector<double> sum_w;
    std::vector<int> count;
  };
  std::map<sys_days, Acc> by_day;
  for (const auto& s : samples) {
    if (!std::isfinite(s.power_w)) continue;
    const auto local = s.at + utc_offset;
    const auto day = floor<days>(local);
    const int slot = static_cast<int>(duration_cast<minutes>(local - day).count() / slot_minutes);
    auto& acc = by_day[day];
    if (acc.sum_w.empty()) {
      acc.sum_w.assign(static_cast<std::size_t>(per_day), 0.0);
      acc.count.assign(static_cast<std::size_t>(per_day), 0);
    }
    acc.sum_w[static_cast<std::size_t>(slot)] += s.power_w;
    acc.count[static_cast<std::size_t>(slot)] += 1;
  }
  BaseLoadHistory h;
  h.slot_minutes = slot_minutes;
  for (const auto& [day, acc] : by_day) {
    if (std::find(acc.count.begin(), acc.count.end(), 0) != acc.count.end()) continue;
    std::vector<double> kw(static_cast<std::size_t>(per_day));
    for (std::size_t i = 0; i < kw.size(); ++i) kw[i] = acc.sum_w[i] / acc.count[i] / 1000.0;
    h.days_kw.push_back(std::move(kw));
    h.dates.push_back(day);
  }
  return h;
}

BaseLoadHistory synthetic_base_load(double peak_kw, int days_count, minutes utc_offset,
                                    std::uint64_t seed, int slot_minutes) {
  require(slot_minutes > 0 && 1440 % slot_minutes == 0,
          "base load: slot_minutes " + std::to_string(slot_minutes) + " must divide a day");
  BaseLoadHistory h;
  h.slot_minutes = slot_minutes;
  h.synthetic = true;
  std::mt19937_64 rng(mix(seed, 0x5EEDull));
  std::uniform_real_distribution<double> factor(0.85, 1.05);
  const sys_days first = year{2025} / January / day{1};
  for (int d = 0; d < days_count; ++d) {
    const sys_days date = first + days(7 * d);
    const double f = factor(rng);
    std::vector<double> kw;
    for (int m = 0; m < 1440; m += slot_minutes) {
      const TimePoint mid = TimePoint(date) - utc_offset + minutes(m) + seconds(slot_minutes * 30);
      kw.push_back(f * demo::base_load_w(mid, utc_offset, peak_kw * 1000.0) / 1000.0);
    }
    h.days_kw.push_back(std::move(kw));
    h.dates.push_back(date);
  }
  return h;
}

int capacity_at_confidence(std::vector<int> max_by_day, double confidence) {
  require(!max_by_day.empty(), "capacity: no sampled days");
  require(confidence > 0 && confidence <= 1,
          "capacity: confidence must be in (0, 1], e.g. 0.95");
  std::sort(max_by_day.begin(), max_by_day.end(), std::greater<>());
  const double n = static_cast<double>(max_by_day.size());
  // The small tolerance keeps 0.95 x 20 = 19 from becoming 20 through binary rounding.
  auto k = static_cast<std::size_t>(std::ceil(confidence * n - 1e-9));
  k = std::clamp<std::size_t>(k, 1, max_by_day.size());
  return max_by_day[k - 1];
}

std::vector<scheduler::PhaseSet> pile_phases(const CapacitySite& site, double new_pile_kw, int new_piles) {
  std::vector<scheduler::PhaseSet> out;
  std::array<double, 3> kw{0, 0, 0};
  for (std::size_t i = 0; i < site.existing_pile_kw.size(); ++i) {
    const auto on = i < site.existing_pile_phases.size() ? site.existing_pile_phases[i] : scheduler::PhaseSet::abc;
    out.push_back(on);
    for (int ph = 0; ph < 3; ++ph) kw[static_cast<std::size_t>(ph)] += site.existing_pile_kw[i] * scheduler::phase_share(on, ph);
  }
  for (int n = 0; n < new_piles; ++n) {
    if (new_pile_kw > kSinglePhaseMaxKw) {
      out.push_back(scheduler::PhaseSet::abc);
      continue;
    }
    const auto least = static_cast<std::size_t>(std::min_element(kw.begin(), kw.end()) - kw.begin());
    kw[least] += new_pile_kw;
    out.push_back(least == 0 ? scheduler::PhaseSet::a : least == 1 ? scheduler::PhaseSet::b : scheduler::PhaseSet::c);
  }
  return out;
}

CapacityResult estimate_hosting_capacity(const CapacitySite& site, const CapacityOptions& options) {
  require(options.confidence > 0 && options.confidence <= 1,
          "capacity: confidence " + std::to_string(options.confidence) + " must be in (0, 1]");
  require(options.days >= 1, "capacity: days must be at least 1");
  require(options.pile_kw > 0, "capacity: pile_kw must be positive");
  require(options.max_new_piles >= 1, "capacity: max_new_piles must be at least 1");
  require(site.limit_kw > site.safety_margin_kw && site.safety_margin_kw >= 0,
          "capacity: transformer limit_kw must exceed the safety margin");
  for (const auto& l : site.phase_limit_kw)
    require(!l || *l > site.safety_margin_kw, "capacity: every phase limit must exceed the safety margin");
  require(!site.base_load.days_kw.empty() &&
              site.base_load.days_kw.size() == site.base_load.dates.size(),
          "capacity: the base load has no complete day");
  for (const auto& s : site.stored_sessions) {
    require(s.arrival_minute >= 0 && s.arrival_minute < 1440 && s.stay > minutes(0) &&
                s.energy_kwh >= 0,
            "capacity: a stored session needs an arrival minute 0-1439, a positive stay and a "
            "non-negative energy");
  }
  require(site.base_load.slot_minutes > 0 && 1440 % site.base_load.slot_minutes == 0 &&
              static_cast<int>(site.base_load.days_kw.front().size()) ==
                  1440 / site.base_load.slot_minutes,
          "capacity: base load days must have one value per slot of the day");
  CapacityResult r;
  for (int d = 0; d < options.days; ++d) {
    Day day(site, options, d);
    bool ceiling = false;
    const int uncontrolled = day.max_passing(false, -1, ceiling);
    ceiling = false;
    r.uncontrolled_by_day.push_back(uncontrolled);
    r.orderly_by_day.push_back(day.max_passing(true, uncontrolled, ceiling));
    r.orderly_at_ceiling = r.orderly_at_ceiling || ceiling;
    r.planner_runs += day.runs;
  }
  const int uncontrolled = capacity_at_confidence(r.uncontrolled_by_day, options.confidence);
  const int orderly = capacity_at_confidence(r.orderly_by_day, options.confidence);
  r.overloaded_without_new_piles = uncontrolled < 0;
  r.uncontrolled_new_piles = std::max(uncontrolled, 0);
  r.orderly_new_piles = std::max(orderly, 0);
  r.orderly_at_ceiling = r.orderly_at_ceiling && r.orderly_new_piles == options.max_new_piles;
  return r;
}

}  // namespace orderly::gateway
