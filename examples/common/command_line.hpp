#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::examples {

// "--name value", "--name=value" and "--flag" arguments, for the example programs. A name
// that is neither a flag nor an option is refused, so that a misspelt option is not silently
// replaced by its default; so is an option whose next argument starts with "--".
class CommandLine {
 public:
  // `flags` take no value; `options` take one.
  CommandLine(int argc, char** argv, const std::set<std::string>& flags,
              const std::set<std::string>& options) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + arg);
      arg = arg.substr(2);
      const auto eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      if (flags.contains(name)) {
        if (eq != std::string::npos) throw std::invalid_argument("--" + name + " takes no value");
        values_[name] = "1";
      } else if (!options.contains(name)) {
        throw std::invalid_argument("unknown option --" + name);
      } else if (eq != std::string::npos) {
        values_[name] = arg.substr(eq + 1);
      } else if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
        values_[name] = argv[++i];
      } else {
        // At the end, or followed by another option: "--host --port 7007" is a host missing,
        // not a host named "--port" (such a value can still be given as --host=--port).
        throw std::invalid_argument("--" + name + " needs a value");
      }
    }
  }

  bool has(const std::string& name) const { return values_.contains(name); }
  std::string get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  // A decimal integer in [min, max].
  long long get_int(const std::string& name, long long fallback, long long min,
                    long long max) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    const std::string& text = it->second;
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    // strtoll would skip leading white space; a value is digits with an optional sign.
    const bool starts_well =
        !text.empty() && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9'));
    if (!starts_well || *end != '\0' || errno == ERANGE || value < min || value > max) {
      throw std::invalid_argument("--" + name + " wants a whole number from " +
                                  std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                                  text + "'");
    }
    return value;
  }
  std::uint16_t get_port(const std::string& name, std::uint16_t fallback) const {
    return static_cast<std::uint16_t>(get_int(name, fallback, 0, 65535));
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace sluice::examples
