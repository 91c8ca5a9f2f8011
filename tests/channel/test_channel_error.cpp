#include <doctest/doctest.h>

#include <cerrno>
#include <system_error>

#include "sluice/channel/channel_error.hpp"

using namespace sluice;

TEST_CASE("the errors of a connection ended by its peer or the network count as connection lost") {
  for (const int lost : {ECONNRESET, ECONNABORTED, EPIPE, ENOTCONN, ETIMEDOUT, EHOSTUNREACH,
                         ENETUNREACH, ENETDOWN}) {
    INFO("errno ", lost);
    CHECK(is_connection_lost(Error::from_errno(lost, "sendmsg")));
    CHECK(is_connection_lost(Error(std::error_code(lost, std::system_category()))));
  }
}

TEST_CASE("faults of this process and sluice's own errors are not connection lost") {
  for (const int fault : {EMFILE, ENOMEM, EBADF, EINVAL, EIO, EACCES}) {
    INFO("errno ", fault);
    CHECK_FALSE(is_connection_lost(Error::from_errno(fault)));
  }
  CHECK_FALSE(is_connection_lost(Error()));
  CHECK_FALSE(is_connection_lost(Error(ChannelErrc::closed)));
  CHECK_FALSE(is_connection_lost(Error(ChannelErrc::connect_timeout)));
  CHECK_FALSE(is_connection_lost(Error(ChannelErrc::address_refused)));
  // The same number in another category is another error.
  CHECK_FALSE(is_connection_lost(Error(std::error_code(ECONNRESET, channel_category()))));
}
