#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace sluice::examples {

// "--name value" and "--flag" arguments, for the example programs.
class CommandLine {
 public:
  // `flags` are the options that take no value.
  CommandLine(int argc, char** argv, std::set<std::string> flags) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + arg);
      arg = arg.substr(2);
      if (auto eq = arg.find('='); eq != std::string::npos) {
        values_[arg.substr(0, eq)] = arg.substr(eq + 1);
      } else if (flags.contains(arg)) {
        values_[arg] = "1";
      } else if (i + 1 < argc) {
        values_[arg] = argv[++i];
      } else {
        throw std::invalid_argument("--" + arg + " needs a value");
      }
    }
  }

  bool has(const std::string& name) const { return values_.contains(name); }
  std::string get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  long long get_int(const std::string& name, long long fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const long long value = std::strtoll(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') {
      throw std::invalid_argument("--" + name + " wants a number, not '" + it->second + "'");
    }
    return value;
  }
  std::uint16_t get_port(const std::string& name, std::uint16_t fallback) const {
    const long long port = get_int(name, fallback);
    if (port < 0 || port > 65535) throw std::invalid_argument("--" + name + " is not a port");
    return static_cast<std::uint16_t>(port);
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace sluice::examples
