// sluice-http-echo: the echo contract of the HTTP/1.1 conformance suite
// (../shared/conformance/http1/README.md): each well-formed request is answered 200 with a
// JSON description of it as parsed; each malformed one with its error status and a close; a
// CONNECT (which the contract leaves out) with 501, the connection staying HTTP.
// Bodies up to 1 MiB; a connection on which nothing moves either way for 30 s is closed.
//
//   sluice-http-echo --host 127.0.0.1 --port 19080 [--threads 1] [--idle-seconds 30]

#include "../common/server_main.hpp"
#include "echo_json.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/codec/http/http_object_aggregator.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_server_codec.hpp"
#include "sluice/codec/http/http_status.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace {

using namespace sluice;
using namespace sluice::http;

constexpr std::size_t kMaxBody = 1024 * 1024;

// The echo contract answers whatever request arrives, Host or not (its vectors mostly come
// without one): Host checking is left to real applications.
HttpLimits echo_limits() {
  HttpLimits limits;
  limits.require_host = false;
  return limits;
}

class EchoRequest final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    auto* request = message.get_if<FullHttpRequest>();
    if (request == nullptr) {
      ctx.fire_read(std::move(message));
      return;
    }
    if (request->head.is_connect()) {
      // A 2xx would open a tunnel (RFC 9110 §9.3.6), which an echo cannot be: the method is
      // one this server does not implement (§15.6.2), and the connection stays HTTP.
      const std::string text = "CONNECT is not implemented by this server\n";
      HttpResponse refusal(status::kNotImplemented);
      refusal.header("Content-Type", "text/plain; charset=utf-8");
      ctx.write(std::move(refusal.body(Buffer::copy_of(text))));
      return;
    }
    const std::string json = examples::echo_json(*request);
    HttpResponse response(status::kOk);
    response.header("Content-Type", "application/json");
    if (request->head.is_head()) {
      // A HEAD response carries no content (RFC 9110 §9.3.2): the echo travels in a header.
      response.header("X-Echo-Base64", HeaderValue::of(examples::base64(json)));
    }
    ctx.write(std::move(response.body(Buffer::copy_of(json))));
  }
  void on_read_complete(HandlerContext& ctx) override {
    ctx.flush();
    ctx.fire_read_complete();
  }
  // A client that stops half-way through a request, or stops reading its response, is
  // dropped; one still downloading a response is not, though it sends nothing meanwhile.
  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<IdleStateEvent>()) {
      ctx.close();
      return;
    }
    ctx.fire_user_event(std::move(event));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const examples::ServerProgram program{
      "sluice-http-echo",
      "Answers each HTTP/1.1 request with a JSON description of it as parsed, and each\n"
      "malformed one with its error status (the echo contract of the conformance suite).\n"
      "Bodies up to 1 MiB.",
      19080,
      {{"idle-seconds", "N",
        "close a connection on which nothing moves either way for N s, 0 never (default 30)"}}};
  return examples::run_server(argc, argv, program, [](const examples::CommandLine& args) {
    // 0 turns the idle timeout off.
    const auto idle = std::chrono::seconds(args.get_int("idle-seconds", 30, 0, 86400));
    return [idle](Channel& channel) {
      auto& pipeline = channel.pipeline();
      // All-idle with output counted rather than reader idle: while a large echo drains to
      // a slow reader, the codec stops reading (the channel is not writable), and a reader
      // timeout would cut the transfer half-way.
      pipeline.add_last("idle", std::make_unique<IdleStateHandler>(
                                    std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                                    idle, OutputProgress::kCountsAsWrite));
      pipeline.add_last("http", std::make_unique<HttpServerCodec>(echo_limits()));
      pipeline.add_last("aggregator", std::make_unique<HttpObjectAggregator>(kMaxBody));
      pipeline.add_last("echo", std::make_unique<EchoRequest>());
    };
  });
}
