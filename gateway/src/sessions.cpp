// Charging sessions: plug-in/unplug detection, owners, requests (resident, learned, default),
// incremental settlement and the "car is full" rule. docs/sessions.md has the rules.
#include "orderly/gateway/sessions.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "orderly/base/units.hpp"
#include "orderly/gateway/settlement.hpp"

namespace orderly::gateway {
namespace {

using namespace std::chrono;
using drivers::ChargerState;

constexpr double kFullBelowW = 100;             // a car drawing less than this is not charging
constexpr Duration kFullAfter = minutes(3);     // ... for this long, with power offered: full
constexpr Duration kPersistEvery = minutes(1);  // progress records, at most this often
constexpr Duration kLongestRequest = days(7);
constexpr double kMaxRequestKwh = 150;
constexpr double kMetToleranceWh = 1;

bool car_present(ChargerState s) { return s == ChargerState::plugged || s == ChargerState::charging; }

int local_minute_of_day(TimePoint t, minutes utc_offset) {
  const auto local = floor<minutes>(t + utc_offset);
  return static_cast<int>((local - floor<days>(local)).count());
}

weekday local_weekday(TimePoint t, minutes utc_offset) { return weekday{floor<days>(t + utc_offset)}; }

// The q-quantile of sorted values, linear between neighbours (q = 0.5: the median).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return quantile(v, 0.5);
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

SessionBook::SessionBook(const Config& config) : config_(config) {
  for (std::size_t i = 0; i < config_.chargers.size(); ++i) charger_index_[config_.chargers[i].id] = i;
}

// Config::find_charger walks the list; a snapshot a second from each of 1000 piles should not.
const ChargerConfig* SessionBook::find_charger(const std::string& charger_id) const {
  const auto it = charger_index_.find(charger_id);
  return it == charger_index_.end() ? nullptr : &config_.chargers[it->second];
}

const ChargerConfig& SessionBook::charger(const std::string& charger_id) const {
  const ChargerConfig* c = find_charger(charger_id);
  if (!c) {
    throw RequestError("charger: '" + charger_id +
                       "' is not a configured charger; use an id from the [[charger]] sections");
  }
  return *c;
}

std::string SessionBook::local_text(TimePoint t) const {
  const auto local = floor<minutes>(t + config_.site.utc_offset);
  const year_month_day date{floor<days>(local)};
  const int minute = static_cast<int>((local - floor<days>(local)).count());
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                minute / 60, minute % 60);
  return std::string(buf) + " (UTC" + config_.site.utc_offset_text + ")";
}

void SessionBook::fill_request(OpenSession& o, TimePoint now) const {
  SessionRecord& r = o.record;
  const auto& sc = config_.sessions;
  const auto offset = config_.site.utc_offset;
  const std::size_t enough = static_cast<std::size_t>(sc.learning_min_sessions);
  std::vector<const Habit*> recent;
  if (const auto it = habits_.find(r.household); it != habits_.end() && !r.household.empty()) {
    const TimePoint since = now - days(sc.learning_days);
    for (const auto& h : it->second) {
      if (h.started_at >= since && h.started_at <= now) recent.push_back(&h);
    }
  }
  bool learned = false;
  if (!o.resident_departure) {
    const TimePoint plugged = floor<minutes>(r.started_at);
    const int plug_minute = local_minute_of_day(plugged, offset);
    const weekday day = local_weekday(plugged, offset);
    std::vector<const Habit*> same_day;
    for (const Habit* h : recent) {
      if (local_weekday(h->started_at, offset) == day) same_day.push_back(h);
    }
    const auto& pool = same_day.size() >= enough ? same_day : recent;
    // Minutes from this plug-in's time of day to each past departure's time of day: a median
    // of those has no trouble with departures either side of midnight.
    std::vector<double> ahead;
    for (const Habit* h : pool) {
      const int m = (local_minute_of_day(h->ended_at, offset) - plug_minute + 1440) % 1440;
      ahead.push_back(m == 0 ? 1440 : m);
    }
    std::sort(ahead.begin(), ahead.end());
    // Only a habit is learned: when the middle half of the departures spreads wider than the
    // limit there is no typical departure, and a median of scattered times (often one the
    // household never keeps, and before the valley) would buy peak energy for nothing.
    const bool regular = pool.size() >= enough &&
                         quantile(ahead, 0.75) - quantile(ahead, 0.25) <= sc.learning_max_spread_minutes;
    if (regular) {
      r.departure = plugged + minutes(std::lround(quantile(ahead, 0.5)));
      learned = true;
    } else {
      int m = (sc.default_departure_minute - plug_minute + 1440) % 1440;
      // Plugged in just before the default time: the car stays for the next one.
      if (m < 60) m += 1440;
      r.departure = plugged + minutes(m);
    }
  }
  if (!o.resident_energy) {
    if (recent.size() >= enough) {
      std::vector<double> energy;
      for (const Habit* h : recent) energy.push_back(std::max(0.0, h->energy_wh));
      r.requested_wh = median(energy);
      learned = true;
    } else {
      r.requested_wh = sc.default_energy_kwh * 1000;
    }
  }
  r.request_source = (o.resident_departure || o.resident_energy) ? "resident"
                     : learned                                   ? "learned"
                                                                 : "default";
}

SessionBook::OpenSession SessionBook::open(const ChargerConfig& c, const drivers::ChargerSnapshot& s,
                                           TimePoint now) const {
  OpenSession o;
  SessionRecord& r = o.record;
  r.id = c.id + "-" + std::to_string(duration_cast<milliseconds>(now.time_since_epoch()).count());
  r.charger_id = c.id;
  r.started_at = now;
  r.is_private = c.kind == ChargerKind::private_pile;
  r.max_power_w = c.max_power_kw * 1000;
  r.rfid = s.rfid;
  if (r.is_private) {
    r.household = c.household;
  } else if (!s.rfid.empty()) {
    r.household = "rfid:" + s.rfid;
  }
  fill_request(o, now);
  r.last_reading_at = now;
  r.last_reading_wh = std::isfinite(s.session_energy_wh) ? s.session_energy_wh : 0;
  o.last_power_w = std::isfinite(s.power_w) ? s.power_w : 0;
  o.persisted_at = now;
  o.persisted_reading_wh = r.last_reading_wh;
  return o;
}

void SessionBook::settle_to(OpenSession& o, double reading_wh, TimePoint now) const {
  SessionRecord& r = o.record;
  if (!r.last_reading_at) {
    r.last_reading_at = now;
    r.last_reading_wh = reading_wh;
    return;
  }
  if (now <= *r.last_reading_at) return;
  const double price = config_.sessions.discharge_price_yuan_per_kwh;
  const SettlementResult step =
      settle(config_.tariff, config_.site.utc_offset,
             {{*r.last_reading_at, r.last_reading_wh}, {now, reading_wh}}, price);
  for (int p = 0; p < kPeriodCount; ++p) {
    r.energy_wh_by_period[p] += step.charged_wh_by_period[p];
    o.charge_cost_yuan += step.cost_yuan_by_period[p];
  }
  r.energy_wh += step.net_energy_wh;
  r.discharged_wh += step.discharged_wh;
  // Rounded once over the running totals, as settle() rounds once over the whole series.
  r.compensation_yuan = round_yuan(r.discharged_wh / 1000.0 * price);
  r.cost_yuan = round_yuan(round_yuan(o.charge_cost_yuan) - r.compensation_yuan);
  r.last_reading_at = now;
  r.last_reading_wh = reading_wh;
}

bool SessionBook::update_met(OpenSession& o, TimePoint now) const {
  SessionRecord& r = o.record;
  if (r.met_at) return false;
  const bool delivered = r.requested_wh > 0 && r.energy_wh >= r.requested_wh - kMetToleranceWh;
  if (!delivered && !o.full) return false;
  r.met_at = now;
  return true;
}

double SessionBook::next_reading(OpenSession& o, const ChargerConfig& c,
                                 const drivers::ChargerSnapshot& s, TimePoint now) const {
  const SessionRecord& r = o.record;
  const double last = r.last_reading_wh;
  if (std::isfinite(s.session_energy_wh)) {
    double reading = s.session_energy_wh + o.counter_offset_wh;
    // A counter that goes back on a pile that cannot discharge was reset (pile restarted):
    // continue from where it was rather than book the drop as V2G.
    if (reading < last && !c.bidirectional) {
      o.counter_offset_wh += last - reading;
      reading = last;
    }
    return reading;
  }
  // No counter: integrate the power last reported over the time since (left rectangle).
  if (!r.last_reading_at || now <= *r.last_reading_at) return last;
  const double power_w = c.bidirectional ? o.last_power_w : std::max(0.0, o.last_power_w);
  return last + power_w * duration<double>(now - *r.last_reading_at).count() / 3600.0;
}

std::vector<SessionRecord> SessionBook::on_snapshot(const std::string& charger_id,
                                                    const drivers::ChargerSnapshot& s,
                                                    double offered_limit_w, TimePoint now) {
  const ChargerConfig* c = find_charger(charger_id);
  if (!c) return {};
  Pile& pile = piles_[charger_id];
  std::vector<SessionRecord> out;
  if (!pile.session) {
    if (car_present(s.state)) {
      pile.session = open(*c, s, now);
      out.push_back(pile.session->record);
    }
    return out;
  }
  OpenSession& o = *pile.session;
  SessionRecord& r = o.record;

  if (s.state == ChargerState::unplugged) {
    // Some piles zero their session counter as the cable comes out; a drop at unplug is that,
    // never energy given back.
    const double reading = next_reading(o, *c, s, now);
    if (reading >= r.last_reading_wh) settle_to(o, reading, now);
    r.ended_at = now;
    update_met(o, now);
    out.push_back(r);
    remember(r);
    pile.session.reset();
    return out;
  }

  bool changed = false;
  if (!s.rfid.empty() && s.rfid != r.rfid) {
    r.rfid = s.rfid;
    changed = true;
    if (!r.is_private && !o.claimed) {
      r.household = "rfid:" + s.rfid;
      fill_request(o, now);
    }
  }
  if (std::isfinite(s.session_energy_wh) || std::isfinite(s.power_w)) {
    settle_to(o, next_reading(o, *c, s, now), now);
  }
  o.last_power_w = std::isfinite(s.power_w) ? s.power_w : 0;

  // Full: the car takes (almost) nothing although the pile offers at least its minimum.
  const int phases = phase_count(c->phase);
  const double min_power_w = power_w_at_nominal(c->min_current_a, phases);
  if (std::isfinite(s.power_w) && s.power_w >= kFullBelowW) {
    o.low_draw_since.reset();
    o.full = false;
  } else if (std::isfinite(s.power_w) && car_present(s.state) && offered_limit_w >= min_power_w) {
    if (!o.low_draw_since) o.low_draw_since = now;
    if (!o.full && now - *o.low_draw_since >= kFullAfter) o.full = true;
  } else {
    o.low_draw_since.reset();
  }
  changed = update_met(o, now) || changed;

  const bool progressed = r.last_reading_wh != o.persisted_reading_wh;
  if (changed || (progressed && now - o.persisted_at >= kPersistEvery)) {
    o.persisted_at = now;
    o.persisted_reading_wh = r.last_reading_wh;
    out.push_back(r);
  }
  return out;
}

SessionRecord SessionBook::set_request(const std::string& charger_id, const ChargeRequest& request,
                                       TimePoint now) {
  const ChargerConfig& c = charger(charger_id);
  const auto it = piles_.find(charger_id);
  if (it == piles_.end() || !it->second.session) {
    throw RequestError("charger: no car is plugged into '" + charger_id +
                       "'; a request applies to the car plugged in now");
  }
  OpenSession o = *it->second.session;  // validated on a copy, taken only when all is well
  SessionRecord& r = o.record;

  bool relearn = false;
  if (!request.household.empty()) {
    if (r.is_private) {
      if (request.household != c.household) {
        throw RequestError("household: '" + charger_id + "' is the private pile of household '" +
                           c.household + "', not of '" + request.household + "'");
      }
    } else if (o.claimed && request.household != r.household) {
      throw RequestError("household: the session on '" + charger_id +
                         "' is claimed by household '" + r.household +
                         "'; it can be claimed again after the car is unplugged");
    } else if (!o.claimed) {
      r.household = request.household;
      o.claimed = true;
      relearn = true;
    }
  }
  if (request.departure) {
    if (*request.departure <= now || *request.departure > now + kLongestRequest) {
      throw RequestError("departure: " + local_text(*request.departure) +
                         " is not accepted; give a time after now (" + local_text(now) +
                         ") and within 7 days");
    }
    r.departure = *request.departure;
    o.resident_departure = true;
  }
  if (request.energy_kwh) {
    const double e = *request.energy_kwh;
    if (!(e > 0 && e <= kMaxRequestKwh)) {
      throw RequestError("energy_kwh: " + number_text(e) +
                         " is not accepted; give more than 0 and at most " +
                         number_text(kMaxRequestKwh) + " kWh");
    }
    r.requested_wh = e * 1000;
    o.resident_energy = true;
  }
  if (request.boost) r.boost = *request.boost;
  if (request.not_before) {
    if (*request.not_before <= now) {
      r.not_before.reset();
    } else {
      r.not_before = *request.not_before;
    }
  }
  if (relearn || request.departure || request.energy_kwh) fill_request(o, now);
  if (r.not_before && r.departure && *r.not_before >= *r.departure) {
    throw RequestError("not_before: " + local_text(*r.not_before) +
                       " is not before the departure " + local_text(*r.departure) +
                       "; give an earlier time, or a later departure");
  }
  if (r.boost && r.not_before) {
    throw RequestError("boost: \"charge now\" cannot be combined with not_before " +
                       local_text(*r.not_before) + "; clear one of them");
  }
  // A raised request is not met any more (unless the car is full).
  if (r.met_at && !o.full && !(r.energy_wh >= r.requested_wh - kMetToleranceWh)) r.met_at.reset();
  update_met(o, now);
  o.persisted_at = now;
  o.persisted_reading_wh = r.last_reading_wh;
  it->second.session = o;
  return r;
}

std::vector<ActiveSession> SessionBook::active(TimePoint now) const {
  std::vector<ActiveSession> out;
  for (const auto& [id, pile] : piles_) {
    if (!pile.session) continue;
    const OpenSession& o = *pile.session;
    const SessionRecord& r = o.record;
    ActiveSession a;
    a.session_id = r.id;
    a.charger_id = r.charger_id;
    a.plugged_at = r.started_at;
    a.departure = r.departure.value_or(r.started_at);
    const double remaining_wh = r.requested_wh - r.energy_wh;
    a.remaining_kwh = (o.full || remaining_wh <= kMetToleranceWh) ? 0 : remaining_wh / 1000;
    a.boost = r.boost;
    if (r.not_before && *r.not_before > now) a.not_before = r.not_before;
    a.is_private = r.is_private;
    a.full = o.full;
    out.push_back(std::move(a));
  }
  return out;
}

std::optional<SessionRecord> SessionBook::open_session(const std::string& charger_id) const {
  const auto it = piles_.find(charger_id);
  if (it == piles_.end() || !it->second.session) return std::nullopt;
  return it->second.session->record;
}

std::vector<SessionRecord> SessionBook::open_sessions() const {
  std::vector<SessionRecord> out;
  for (const auto& [id, pile] : piles_) {
    if (pile.session) out.push_back(pile.session->record);
  }
  return out;
}

void SessionBook::remember(const SessionRecord& closed) {
  if (closed.household.empty() || !closed.ended_at) return;
  auto& list = habits_[closed.household];
  list.push_back(Habit{closed.started_at, *closed.ended_at, closed.energy_wh});
  // Older than any learning window that can still ask: drop, so the book stays small.
  const TimePoint horizon = closed.started_at - days(config_.sessions.learning_days);
  while (!list.empty() && list.front().started_at < horizon) list.pop_front();
}

void SessionBook::restore(const std::vector<SessionRecord>& open,
                          const std::vector<SessionRecord>& closed_history) {
  piles_.clear();
  habits_.clear();
  std::vector<SessionRecord> closed = closed_history;
  std::sort(closed.begin(), closed.end(),
            [](const SessionRecord& a, const SessionRecord& b) { return a.started_at < b.started_at; });
  for (const auto& r : closed) remember(r);
  for (const auto& record : open) {
    if (!find_charger(record.charger_id)) continue;  // pile removed from the config
    Pile& pile = piles_[record.charger_id];
    // Two open sessions on one pile cannot both be real; the newer one is.
    if (pile.session && pile.session->record.started_at > record.started_at) continue;
    OpenSession o;
    o.record = record;
    o.resident_departure = o.resident_energy = record.request_source == "resident";
    o.claimed = !record.is_private && !record.household.empty() &&
                record.household.rfind("rfid:", 0) != 0;
    // The unrounded charging cost is not stored; its rounded value restarts the running total.
    o.charge_cost_yuan = record.cost_yuan + record.compensation_yuan;
    o.persisted_at = record.last_reading_at.value_or(record.started_at);
    o.persisted_reading_wh = record.last_reading_wh;
    if (!o.record.departure || o.record.requested_wh <= 0) fill_request(o, record.started_at);
    pile.session = std::move(o);
  }
}

}  // namespace orderly::gateway
