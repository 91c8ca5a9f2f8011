// sluice-http-hello: the TechEmpower plaintext test. GET / and GET /plaintext answer
// "Hello, World!" (text/plain, with Server and Date); anything else is 404. Keep-alive and
// pipelining; responses to a batch of pipelined requests leave in one write.
//
//   sluice-http-hello --host 127.0.0.1 --port 8081 --threads 1

#include "../common/server_main.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_server_codec.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace {

using namespace sluice;
using namespace sluice::http;

class HelloHandler final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    const HttpRequest* request = message.get_if<HttpRequest>();
    if (request == nullptr) return;  // bodies (none expected) and errors are handled upstream
    const std::string_view target = request->target();
    if (target == "/" || target == "/plaintext") {
      ctx.write(HttpResponse(status::kOk)
                    .header("Server", "sluice")
                    .header("Content-Type", "text/plain")
                    .body(hello().share()));
    } else {
      ctx.write(HttpResponse(status::kNotFound)
                    .header("Server", "sluice")
                    .header("Content-Type", "text/plain")
                    .body(not_found().share()));
    }
  }
  // One flush per read batch: the responses to pipelined requests go out together.
  void on_read_complete(HandlerContext& ctx) override { ctx.flush(); }

 private:
  // The bodies are made once per thread and shared: no response allocates one. (The encoder
  // copies a body this small into the head's buffer, which costs less than a second iovec.)
  static const Buffer& hello() {
    thread_local const Buffer body = Buffer::copy_of("Hello, World!");
    return body;
  }
  static const Buffer& not_found() {
    thread_local const Buffer body = Buffer::copy_of("Not Found\n");
    return body;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const examples::ServerProgram program{
      "sluice-http-hello",
      "The TechEmpower plaintext test over HTTP/1.1: GET / and GET /plaintext answer\n"
      "'Hello, World!', anything else 404. Keep-alive and pipelining.",
      8081,
      {}};
  return examples::run_server(argc, argv, program, [](const auto&) {
    return [](Channel& channel) {
      channel.pipeline().add_last("http", std::make_unique<HttpServerCodec>());
      channel.pipeline().add_last("hello", std::make_unique<HelloHandler>());
    };
  });
}
