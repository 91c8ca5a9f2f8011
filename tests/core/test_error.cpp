#include <doctest/doctest.h>

#include <cerrno>
#include <ostream>  // doctest prints std::error_code through operator<<

#include "sluice/core/error.hpp"
#include "sluice/core/result.hpp"

TEST_CASE("an Error from errno names the context and the system message") {
  const sluice::Error error = sluice::Error::from_errno(ECONNREFUSED, "connect 127.0.0.1:9");
  CHECK(error);
  CHECK(error == std::errc::connection_refused);
  CHECK(error.message().find("connect 127.0.0.1:9: ") == 0);
  CHECK(error.message().find("refused") != std::string::npos);
}

TEST_CASE("a default Error is no error") {
  const sluice::Error error;
  CHECK_FALSE(error);
}

TEST_CASE("Result holds a value or an error, and value() on an error throws it") {
  sluice::Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  sluice::Result<int> bad = sluice::Error::from_errno(ENOENT, "open x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == std::errc::no_such_file_or_directory);
  CHECK_THROWS_AS(bad.value(), sluice::Exception);
  try {
    (void)bad.value();
  } catch (const sluice::Exception& e) {
    CHECK(e.code() == std::errc::no_such_file_or_directory);
    CHECK(e.error().context() == "open x");
  }
}

TEST_CASE("Result<void> is ok unless given an error") {
  sluice::Result<void> ok;
  CHECK(ok.ok());
  CHECK_NOTHROW(ok.value());
  sluice::Result<void> failed = sluice::Error::from_errno(EPIPE);
  CHECK_FALSE(failed.ok());
  CHECK_THROWS_AS(failed.value(), sluice::Exception);
}
