#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::examples {

// One option an example program accepts. An option with an empty `value` is a flag.
struct Option {
  std::string name;   // without the leading "--"
  std::string value;  // what the value is, as the usage shows it ("N", "DIR"); empty: a flag
  std::string help;   // one line: what it does, and its default
};

// "--name value", "--name=value" and "--flag" arguments, for the example programs. A name
// that is not among the options is refused, so that a misspelt option is not silently
// replaced by its default; so is an option whose next argument starts with "--". "--help"
// is always known: it stops the parse, and the program prints usage() and exits.
class CommandLine {
 public:
  CommandLine(int argc, char** argv, std::vector<Option> options) : options_(std::move(options)) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help") {
        wants_help_ = true;
        return;  // what follows may be wrong: the user is asking how to write it
      }
      if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + arg);
      arg = arg.substr(2);
      const auto eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      const Option* option = find(name);
      if (option == nullptr) {
        throw std::invalid_argument("unknown option --" + name);
      } else if (option->value.empty()) {
        if (eq != std::string::npos) throw std::invalid_argument("--" + name + " takes no value");
        values_[name] = "1";
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

  bool wants_help() const { return wants_help_; }

  // "Usage: PROGRAM [options]", the summary, then one aligned line per option.
  std::string usage(std::string_view program, std::string_view summary) const {
    std::string text = "Usage: " + std::string(program) + " [options]\n" + std::string(summary);
    if (!text.ends_with('\n')) text += '\n';
    text += "\nOptions:\n";
    std::vector<std::string> synopses;
    std::size_t width = 0;
    for (const Option& option : options_) {
      synopses.push_back("--" + option.name + (option.value.empty() ? "" : " " + option.value));
      width = std::max(width, synopses.back().size());
    }
    synopses.push_back("--help");
    width = std::max(width, synopses.back().size());
    for (std::size_t i = 0; i < synopses.size(); ++i) {
      const std::string& help = i < options_.size() ? options_[i].help : "print this and exit";
      text += "  " + synopses[i] + std::string(width - synopses[i].size() + 2, ' ') + help + '\n';
    }
    return text;
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
  const Option* find(const std::string& name) const {
    auto it = std::find_if(options_.begin(), options_.end(),
                           [&](const Option& option) { return option.name == name; });
    return it == options_.end() ? nullptr : &*it;
  }

  std::vector<Option> options_;
  std::map<std::string, std::string> values_;
  bool wants_help_ = false;
};

// Prints a usage error the way the example programs all do; returns their status for it.
inline int usage_error(const char* name, const std::exception& error) {
  std::fprintf(stderr, "%s: %s\nTry '%s --help'.\n", name, error.what(), name);
  return 2;
}

}  // namespace sluice::examples
