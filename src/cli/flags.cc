#include "cli/flags.h"

#include "base/strings.h"

namespace kiln::cli {

bool ParsedFlags::Bool(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return false;
  const std::string& v = it->second.back();
  return v != "false" && v != "0";
}

std::string ParsedFlags::Value(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return fallback;
  return it->second.back();
}

std::vector<std::string> ParsedFlags::All(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

Result<ParsedFlags> ParseFlags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                               std::string_view command, Interspersed mode) {
  ParsedFlags out;
  auto usage = [&](std::string msg) {
    return Fail(Error::Usage(std::move(msg)).WithHint(fmt::format("see '{} --help'", command)));
  };
  auto find_long = [&](std::string_view n) -> const FlagSpec* {
    for (const auto& s : specs)
      if (s.name == n) return &s;
    return nullptr;
  };
  auto find_short = [&](char c) -> const FlagSpec* {
    for (const auto& s : specs)
      if (s.short_name == c) return &s;
    return nullptr;
  };
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      for (++i; i < argv.size(); ++i) out.args_.push_back(argv[i]);
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.args_.push_back(a);
      if (mode == Interspersed::kStopAtFirstArg) {
        for (++i; i < argv.size(); ++i) out.args_.push_back(argv[i]);
        break;
      }
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::optional<std::string> inline_value;
    std::string shown;
    if (a[1] == '-') {
      auto cut = CutString(std::string_view(a).substr(2), '=');
      shown = "--" + std::string(cut.first);
      spec = find_long(cut.first);
      if (!spec) {
        std::vector<std::string> names;
        for (const auto& s : specs) names.push_back(s.name);
        std::string near = Spellcheck(cut.first, names);
        return usage(near.empty() ? fmt::format("unknown flag: {}", shown)
                                  : fmt::format("unknown flag: {} (did you mean --{}?)", shown, near));
      }
      if (cut.found) inline_value = std::string(cut.second);
    } else {
      shown = a.substr(0, 2);
      spec = find_short(a[1]);
      if (!spec) return usage(fmt::format("unknown shorthand flag: '{}' in {}", a[1], a));
      if (a.size() > 2) {
        if (spec->kind == FlagKind::kBool)
          return usage(fmt::format("flag {} takes no value (in {})", shown, a));
        inline_value = a.substr(a[2] == '=' ? 3 : 2);
      }
    }
    auto& vals = out.values_[spec->name];
    if (spec->kind == FlagKind::kBool) {
      if (inline_value && *inline_value != "true" && *inline_value != "false")
        return usage(fmt::format("invalid value \"{}\" for flag {}: want true or false", *inline_value, shown));
      vals.push_back(inline_value.value_or("true"));
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) return usage(fmt::format("flag needs an argument: {}", shown));
      inline_value = argv[++i];
    }
    if (spec->kind == FlagKind::kValue) vals.clear();
    vals.push_back(*inline_value);
  }
  return out;
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = s.short_name ? fmt::format("-{}, --{}", s.short_name, s.name)
                                    : fmt::format("    --{}", s.name);
    if (s.kind != FlagKind::kBool) left += " " + s.value_name;
    out += fmt::format("  {:<32} {}\n", left, s.help);
  }
  return out;
}

Result<SecretFlag> SplitSecretCacheField(std::string_view flag) {
  auto fields = SplitCsv(flag);
  if (!fields)
    return Fail(Error::Usage(fmt::format("--secret {}: {}", Quote(flag), fields.error().message())));
  SecretFlag out;
  std::vector<std::string> rest;
  for (const auto& f : *fields) {
    Cut kv = CutString(f, '=');
    if (ToLower(TrimSpace(kv.first)) != "cache") {
      // Re-quote as CSV so ParseSecretFlag reads the same fields.
      bool quote = f.find_first_of(",\"\n") != std::string::npos;
      std::string q;
      for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      rest.push_back(quote ? "\"" + q + "\"" : f);
      continue;
    }
    if (kv.second == "value") {
      out.value_keyed = true;
    } else if (kv.second != "id") {
      return Fail(Error::Usage(fmt::format("--secret {}: invalid cache={}: want cache=id or cache=value",
                                           Quote(flag), kv.second)));
    }
  }
  out.spec = Join(rest, ",");
  return out;
}

}  // namespace kiln::cli
