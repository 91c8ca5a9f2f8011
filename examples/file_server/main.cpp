// sluice-file-server: a static file server. GET and HEAD for the files beneath --root, with
// ETag/Last-Modified validation (304, 412), single byte ranges (206, 416), directory indexes
// and listings, keep-alive and pipelining; file bodies move by sendfile, splice, mmap or a
// pread copy (--transfer). Lookups stay beneath the root (openat2 RESOLVE_BENEATH).
//
//   sluice-file-server --root DIR [--host 127.0.0.1] [--port 8080] [--threads 1]
//                      [--transfer sendfile|splice|mmap|copy] [--access-log]
//                      [--idle-seconds 30] [--max-connections 10000] [--no-openat2]
//                      [--no-proc-reopen] [--no-file-cache]

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "../common/server_main.hpp"
#include "body_transfer.hpp"
#include "connection_limit.hpp"
#include "file_handler.hpp"
#include "root_directory.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/codec/chunked_write_handler.hpp"
#include "sluice/codec/http/http_server_codec.hpp"
#include "sluice/codec/idle_state_handler.hpp"
#include "sluice/core/log.hpp"

namespace {

using namespace sluice;
using namespace sluice::examples;

// All-idle with output counted, not reader idle: a client downloading a file has nothing to
// say, and must not be dropped for it while the bytes keep moving.
std::unique_ptr<IdleStateHandler> idle_handler(std::chrono::seconds idle) {
  return std::make_unique<IdleStateHandler>(std::chrono::milliseconds(0),
                                            std::chrono::milliseconds(0), idle,
                                            OutputProgress::kCountsAsWrite);
}

ChannelInitializer configure(const CommandLine& args) {
  if (!args.has("root")) throw std::invalid_argument("--root DIR is required");
  auto config = std::make_shared<FileServerConfig>();
  config->root = std::make_unique<RootDirectory>(args.get("root", ""), !args.has("no-openat2"),
                                                 !args.has("no-proc-reopen"));
  const std::string transfer = args.get("transfer", "sendfile");
  const auto parsed = parse_transfer(transfer);
  if (!parsed) {
    throw std::invalid_argument(
        fmt::format("--transfer wants sendfile, splice, mmap or copy, not '{}'", transfer));
  }
  config->transfer = *parsed;
  if (args.has("access-log")) config->access_log = make_access_logger();
  config->share_opens = !args.has("no-file-cache");
  const long long idle_seconds = args.get_int("idle-seconds", 30, 0, 86400);
  const long long max_connections = args.get_int("max-connections", 10000, 0, 10'000'000);
  const auto idle = std::chrono::seconds(idle_seconds);
  auto limit = std::make_shared<ConnectionLimit>(static_cast<std::size_t>(max_connections));
  logger().info(
      "sluice-file-server: serving {} by {} ({}, files opened {}), idle timeout {}, {} "
      "connections at most",
      config->root->path(), transfer_name(config->transfer),
      config->root->uses_openat2() ? "openat2 RESOLVE_BENEATH" : "O_NOFOLLOW walk",
      config->root->uses_proc_reopen() ? "through /proc" : "by a second lookup",
      idle_seconds == 0 ? std::string("off") : std::to_string(idle_seconds) + " s",
      max_connections == 0 ? std::string("unlimited") : std::to_string(max_connections));

  std::shared_ptr<const FileServerConfig> shared = std::move(config);
  return [shared, limit, idle](Channel& channel) {
    Pipeline& pipeline = channel.pipeline();
    if (!limit->try_acquire()) {
      if (idle.count() > 0) pipeline.add_last("idle", idle_handler(idle));
      pipeline.add_last("http", std::make_unique<http::HttpServerCodec>());
      pipeline.add_last("over-capacity", std::make_unique<OverCapacityHandler>());
      return;
    }
    pipeline.add_last("slot", std::make_unique<ConnectionSlot>(limit));
    if (idle.count() > 0) pipeline.add_last("idle", idle_handler(idle));
    pipeline.add_last("http", std::make_unique<http::HttpServerCodec>());
    // Between the codec and the handler: mmap and copy bodies are pulled from here a window or
    // a 64 KiB chunk at a time, only while the socket keeps up. Sendfile and splice bodies are
    // one FileRegion each and need no such stage (nor the hop through it on every write).
    if (pulls_chunks(shared->transfer)) {
      pipeline.add_last("chunked", std::make_unique<ChunkedWriteHandler>());
    }
    pipeline.add_last("files", std::make_unique<FileHandler>(shared));
  };
}

}  // namespace

int main(int argc, char** argv) {
  const ServerProgram program{
      "sluice-file-server",
      "Serves the files beneath --root over HTTP/1.1: GET and HEAD, ETag and Last-Modified\n"
      "validation, single byte ranges, directory indexes and listings, keep-alive and\n"
      "pipelining. examples/file_server/README.md says more.",
      8080,
      {{"root", "DIR", "the directory served (required)"},
       {"transfer", "HOW", "how bodies reach the socket: sendfile (default), splice, mmap or copy"},
       {"access-log", "", "one Common Log Format line per response, on stdout"},
       {"idle-seconds", "N",
        "close a connection on which nothing moves for N s, 0 never (default 30)"},
       {"max-connections", "N", "answer 503 beyond N open connections, 0 no limit (default 10000)"},
       {"no-openat2", "", "look paths up without openat2 (for tests)"},
       {"no-proc-reopen", "", "open files by a second lookup, not through /proc (for tests)"},
       {"no-file-cache", "", "open the file for every request (for tests)"}}};
  return run_server(argc, argv, program, configure);
}
