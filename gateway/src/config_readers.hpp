#pragma once
// How config.cpp reads orderly.toml, step by step: the section readers (config_sections.cpp,
// tariff.cpp) fill a Config from one document, then the cross-checks (config_checks.cpp) look at
// it whole. The readers hand on the table each [[capacity]], [[modbus.bus]], [[charger]] and
// [[meter]] came from, index by index with the Config's vectors, so a cross-check can point at
// the key it complains about.
#include <optional>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "orderly/base/toml_section.hpp"
#include "orderly/gateway/config.hpp"

namespace orderly::gateway::config_detail {

using toml_section::assign;
using toml_section::Errors;
using toml_section::join;
using toml_section::node_type_name;
using toml_section::number_text;
using toml_section::Section;

void read_site(Section& root, Config& c);
void read_capacity(Section& root, Config& c, std::vector<const toml::table*>& where);
void read_tariff(Section& root, Config& c);
void read_mqtt(Section& root, Config& c);
void read_modbus(Section& root, Config& c, std::vector<const toml::table*>& where);
void read_control(Section& root, Config& c);
void read_chargers(Section& root, Config& c, std::vector<const toml::table*>& where);
void read_meters(Section& root, Config& c, std::vector<const toml::table*>& where);
void read_web(Section& root, Config& c);
void read_platform(Section& root, Config& c);
void read_store(Section& root, Config& c);
void read_sessions(Section& root, Config& c);
void read_log(Section& root, Config& c);

// "HH:MM" as a minute of the day, 0..1440 ("24:00" ends a tariff range); the tariff's hours and
// [sessions] default_departure are written this way.
std::optional<int> parse_clock(std::string_view s);

void check_references(Errors& errors, Config& c,
                      const std::vector<const toml::table*>& node_where,
                      const std::vector<const toml::table*>& bus_where,
                      const std::vector<const toml::table*>& charger_where,
                      const std::vector<const toml::table*>& meter_where);
void check_profiles(Errors& errors, const Config& c, const drivers::ProfileCatalog& catalog,
                    const std::vector<const toml::table*>& charger_where,
                    const std::vector<const toml::table*>& meter_where);

}  // namespace orderly::gateway::config_detail
