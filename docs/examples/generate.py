#!/usr/bin/env python3
"""Writes the example scenarios for `orderly plan` (docs/scenario-format.md).

Deterministic (fixed seed), so the checked-in files are reproducible: python3 generate.py
A day from 12:00 to 12:00 in 15-minute slots (slot 0 = 12:00, slot 44 = 23:00, slot 76 = 07:00)
under a time-of-use tariff of the kind Chinese provinces publish for residents' EV piles.
"""
import json
import math
import random

SLOTS = 96
START = "2026-01-05T12:00:00+08:00"


def hour_of(slot):
    return (12 + slot / 4) % 24


def residential_base_kw(scale=1.0):
    out = []
    for s in range(SLOTS):
        h = hour_of(s + 0.5)
        kw = 110 + 15 * math.cos(2 * math.pi * (h - 15) / 24)
        for centre, width, height in ((7.3, 0.8, 80), (12.2, 0.8, 25), (20.3, 1.6, 210)):
            d = min(abs(h - centre), 24 - abs(h - centre)) / width
            kw += height * math.exp(-0.5 * d * d)
        out.append(round(kw * scale, 1))
    return out


def tou_price(sharp=False):
    prices = []
    for s in range(SLOTS):
        h = hour_of(s)
        if h >= 23 or h < 7:
            p = 0.30                       # valley 23:00-07:00
        elif 10 <= h < 15 or 18 <= h < 21:
            p = 1.00                       # peak
            if sharp and 19 <= h < 21:
                p = 1.30                   # sharp peak (summer / winter months)
        else:
            p = 0.60                       # flat
        prices.append(p)
    return prices


def evs(rng, count, nodes, v2g=0):
    out = []
    for i in range(count):
        arrival = rng.randint(20, 36)      # 17:00-21:00
        departure = rng.randint(76, 84)    # 07:00-09:00
        ev = {"id": f"ev-{i + 1}", "node": nodes[i % len(nodes)], "arrival_slot": arrival,
              "departure_slot": departure, "energy_kwh": round(rng.uniform(8, 30), 1),
              "max_kw": 7.0, "min_kw": 1.4}
        if i % 5 == 4:
            ev["private"] = False          # a shared community pile
            ev["priority"] = 2
        if i < v2g:
            ev.update({"discharge_max_kw": 7.0, "battery_kwh": 60, "initial_kwh": 36,
                       "reserve_kwh": 20, "discharge_price_per_kwh": 0.9})
            ev["energy_kwh"] = round(rng.uniform(8, 20), 1)
        out.append(ev)
    return out


def write(name, scenario):
    with open(name, "w") as f:
        json.dump(scenario, f, indent=1)
        f.write("\n")


rng = random.Random(2026)
write("feeder.json", {
    "start": START, "slot_minutes": 15, "slots": SLOTS,
    "capacity": {"id": "transformer", "limit_kw": 380, "children": [
        {"id": "feeder-1", "limit_kw": 35, "children": []}]},
    "base_load_kw": residential_base_kw(),
    "price_per_kwh": tou_price(),
    "evs": evs(rng, 16, ["feeder-1", "transformer"]),
})

write("v2g.json", {
    "start": START, "slot_minutes": 15, "slots": SLOTS,
    "capacity": {"id": "transformer", "limit_kw": 400, "children": []},
    "base_load_kw": residential_base_kw(),
    "price_per_kwh": tou_price(sharp=True),
    "period": [{0.30: "valley", 0.60: "flat", 1.00: "peak", 1.30: "sharp"}[p] for p in tou_price(sharp=True)],
    "evs": evs(rng, 8, ["transformer"], v2g=3),
})

# A smaller transformer (300 kW) and a demand-response event that cuts it to 250 kW from 18:00
# to 23:00 (slots 24-44), while 50 cars want 30-50 kWh by 06:00: not everyone can be served.
limit = [250 if 24 <= s < 44 else 300 for s in range(SLOTS)]
short_evs = evs(rng, 50, ["transformer"])
for ev in short_evs:
    ev["departure_slot"] = 72
    ev["energy_kwh"] = round(rng.uniform(30, 50), 1)
write("capacity-short.json", {
    "start": START, "slot_minutes": 15, "slots": SLOTS,
    "capacity": {"id": "transformer", "limit_kw": limit, "children": []},
    "base_load_kw": residential_base_kw(scale=0.7),
    "price_per_kwh": tou_price(),
    "evs": short_evs,
})

# Phases: 25 single-phase 7 kW home piles on phase A of block A (the usual wiring: one phase
# per building riser), 10 on B and C, and 8 three-phase 11 kW shared piles. The transformer's
# total has room; its phase A does not, at the evening peak, without planning. Base load is
# unbalanced (40 % on A). Phase limits per phase [A, B, C]; block A also has its own on A.
base = residential_base_kw()
phase_evs = []
for i in range(43):
    arrival = rng.randint(20, 36)
    departure = rng.randint(76, 84)
    if i < 25:
        ev = {"node": "block-a", "phases": "A", "max_kw": 7.0, "min_kw": 1.4}
    elif i < 35:
        ev = {"node": "transformer", "phases": "B" if i % 2 else "C", "max_kw": 7.0, "min_kw": 1.4}
    else:
        ev = {"node": "transformer", "phases": "ABC", "max_kw": 11.0, "min_kw": 4.2, "private": False}
    ev.update({"id": f"ev-{i + 1}", "arrival_slot": arrival, "departure_slot": departure,
               "energy_kwh": round(rng.uniform(8, 30), 1)})
    phase_evs.append(ev)
write("phases.json", {
    "start": START, "slot_minutes": 15, "slots": SLOTS,
    "capacity": {"id": "transformer", "limit_kw": 500, "phase_limit_kw": [150, 160, 160], "children": [
        {"id": "block-a", "limit_kw": 200, "phase_limit_kw": [110, None, None], "children": []}]},
    "base_load_kw": base,
    "base_load_phase_kw": [[round(kw * s, 1) for kw in base] for s in (0.4, 0.3, 0.3)],
    "price_per_kwh": tou_price(),
    "evs": phase_evs,
})
