// MessageToMessageEncoder and friends: messages of their type are converted, others pass
// untouched, and every write's callback is completed exactly once.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/codec/message_codecs.hpp"

using namespace sluice;

namespace {

// Writes nothing for a message of its type and leaves the callback where it found it: a
// subclass breaking the contract, as a filter that drops messages might.
class SilentEncoder final : public MessageToMessageEncoder<int> {
 protected:
  void encode(HandlerContext&, int&&, WriteCallback&&) override {}
};

class ErrorRecorder final : public ChannelHandler {
 public:
  explicit ErrorRecorder(std::vector<Error>& errors) : errors_(errors) {}
  void on_error(HandlerContext&, const Error& error) override { errors_.push_back(error); }

 private:
  std::vector<Error>& errors_;
};

}  // namespace

// The callback went out of scope uncalled, so a caller waiting on it (to close after the last
// answer, say) waited for ever; Netty fails such a write ("must produce at least one message").
TEST_CASE("an encode that neither passes the callback on nor completes it fails the write") {
  std::vector<Error> results;
  std::vector<Error> errors;
  auto channel = EmbeddedChannel::create([&](Pipeline& p) {
    p.add_last("encoder", std::make_unique<SilentEncoder>());
    p.add_last("errors", std::make_unique<ErrorRecorder>(errors));
  });
  channel->pipeline().write(1, [&](const Error& error) { results.push_back(error); });
  channel->pipeline().write(std::string("other"),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 2);
  CHECK(results[0]);
  CHECK_FALSE(results[1]);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].code() == results[0].code());
  Message other = channel->read_outbound();
  REQUIRE(other.is<std::string>());
  CHECK(channel->read_outbound().empty());
}
