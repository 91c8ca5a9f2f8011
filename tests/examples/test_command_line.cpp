// The example programs' argument parser: what it accepts, that a misspelt option, a value
// where none belongs and a number out of range are refused rather than defaulted, and the
// usage that --help prints.
#include <doctest/doctest.h>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "command_line.hpp"

using sluice::examples::CommandLine;
using sluice::examples::Option;

namespace {

const std::vector<Option> kOptions{{"host", "ADDR", "where to listen"},
                                   {"port", "N", "which port"},
                                   {"threads", "N", "how many loops"},
                                   {"reuseport", "", "a listener per loop"}};

CommandLine parse(std::initializer_list<const char*> arguments) {
  std::vector<std::string> storage{"program"};
  storage.insert(storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& argument : storage)
    argv.push_back(argument.data());
  return CommandLine(static_cast<int>(argv.size()), argv.data(), kOptions);
}

}  // namespace

TEST_CASE("options take the next argument or an = value; flags take none") {
  const CommandLine args = parse({"--host", "::1", "--port=7007", "--reuseport"});
  CHECK(args.get("host", "x") == "::1");
  CHECK(args.get_port("port", 1) == 7007);
  CHECK(args.has("reuseport"));
  CHECK_FALSE(args.has("threads"));
  CHECK(args.get_int("threads", 3, 0, 8) == 3);
}

TEST_CASE("a misspelt option is refused, not ignored") {
  CHECK_THROWS_WITH_AS(parse({"--thread", "2"}), "unknown option --thread", std::invalid_argument);
  CHECK_THROWS_AS(parse({"--threads=2", "--prot", "1"}), std::invalid_argument);
  CHECK_THROWS_AS(parse({"threads"}), std::invalid_argument);
}

TEST_CASE("a flag with a value and an option without one are refused") {
  CHECK_THROWS_WITH_AS(parse({"--reuseport=1"}), "--reuseport takes no value",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse({"--port"}), "--port needs a value", std::invalid_argument);
}

TEST_CASE("numbers must be whole, in range, and representable") {
  CHECK(parse({"--threads", "0"}).get_int("threads", 1, 0, 8) == 0);
  CHECK(parse({"--threads", "8"}).get_int("threads", 1, 0, 8) == 8);
  for (const std::string bad : {"-1", "9", "2x", "", " 2", "+", "99999999999999999999999"}) {
    CAPTURE(bad);
    const CommandLine args = parse({"--threads", bad.c_str()});
    CHECK_THROWS_AS(args.get_int("threads", 1, 0, 8), std::invalid_argument);
  }
  CHECK_THROWS_AS(parse({"--port", "65536"}).get_port("port", 1), std::invalid_argument);
  CHECK(parse({"--port", "0"}).get_port("port", 1) == 0);
}

TEST_CASE("an option followed by another option is missing its value") {
  // Taking "--reuseport" as the host would only fail later, as a name that does not resolve,
  // and "--host --port 7007" would blame "7007".
  CHECK_THROWS_WITH_AS(parse({"--host", "--reuseport"}), "--host needs a value",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse({"--host", "--port", "7007"}), "--host needs a value",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse({"--threads", "--"}), "--threads needs a value",
                       std::invalid_argument);
  // Such a value can still be given with '='; a negative number is a value.
  CHECK(parse({"--host=--odd"}).get("host", "") == "--odd");
  CHECK_THROWS_AS(parse({"--threads", "-1"}).get_int("threads", 1, 0, 8), std::invalid_argument);
}

TEST_CASE("--help stops the parse, whatever follows it") {
  CHECK_FALSE(parse({"--port", "1"}).wants_help());
  CHECK(parse({"--help"}).wants_help());
  // The user asking how to write a command line has not written it right yet.
  const CommandLine args = parse({"--port", "1", "--help", "--bogus", "extra"});
  CHECK(args.wants_help());
  CHECK(args.get_port("port", 2) == 1);
  // Before --help, a wrong argument is still wrong.
  CHECK_THROWS_AS(parse({"--bogus", "--help"}), std::invalid_argument);
}

TEST_CASE("the usage lists every option, its value and its help, aligned") {
  const std::string usage = parse({}).usage("prog", "Does things.");
  CHECK(usage ==
        "Usage: prog [options]\n"
        "Does things.\n"
        "\n"
        "Options:\n"
        "  --host ADDR  where to listen\n"
        "  --port N     which port\n"
        "  --threads N  how many loops\n"
        "  --reuseport  a listener per loop\n"
        "  --help       print this and exit\n");
}
