// prometheus_endpoint: a tiny HTTP service that exposes tide::heap's memstats for Prometheus.
//
// GET /metrics answers with tide::memstats_prometheus() (the text exposition format 0.0.4:
// tide_heap_live_bytes, tide_heap_footprint_bytes, tide_heap_mallocs_total, ... and the
// per-size-class series); any other request gets 404. It listens on 127.0.0.1 only. Raw
// POSIX sockets, one request per connection, one connection at a time: enough for a scraper
// every few seconds, and short enough to copy into a service that has no HTTP server.
//
// To have something to report, the service keeps a tide::heap_map of "users" that every
// request to /metrics changes (a few thousand inserted, a few thousand erased).
//
//   usage: prometheus_endpoint [--port N] [--requests N | --once]
//     --port N       port on 127.0.0.1 (default 0: an ephemeral port, printed on stdout)
//     --requests N   exit after answering N requests (default: serve until killed)
//     --once         the same as --requests 1
//
//   $ prometheus_endpoint --port 9464 &
//   $ curl -s http://127.0.0.1:9464/metrics | grep tide_heap_live_bytes

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <tide/heap_map.hpp>
#include <tide/memstats.hpp>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "prometheus_endpoint: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "prometheus_endpoint: %s\nusage: prometheus_endpoint [--port N] "
               "[--requests N | --once]\n",
               message);
  std::exit(2);
}

long parse_number(const char* text, long max) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0 || value > max) {
    usage("expected a number");
  }
  return value;
}

// Writes all of `data`; false if the peer went away. MSG_NOSIGNAL: no SIGPIPE.
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until the end of the request head (an empty line); the request line is all we need.
// Returns an empty string if the peer closed or sent more than 8 KiB of head.
std::string read_request_head(int fd) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || head.size() > 8192) return {};
    head.append(buffer, static_cast<std::size_t>(n));
  }
  return head;
}

std::string response(int status, std::string_view reason, std::string_view content_type,
                     std::string_view body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += body;
  return out;
}

// The request line "GET /metrics HTTP/1.1" (a query string is ignored).
// Users by id; ids [oldest, next) are in the map.
struct user_table {
  tide::heap_map<std::uint64_t, std::uint64_t> users;
  std::uint64_t oldest = 0;
  std::uint64_t next = 0;

  // Some work between scrapes: 4000 users sign up, the 3000 oldest leave.
  void churn() {
    for (int i = 0; i < 4000; ++i, ++next) users.emplace(next, next * 7);
    for (int i = 0; i < 3000; ++i, ++oldest) users.erase(oldest);
  }
};

std::string handle(std::string_view head, user_table& table) {
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    return response(400, "Bad Request", "text/plain; charset=utf-8", "bad request\n");
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  if (method != "GET" || path != "/metrics") {
    return response(404, "Not Found", "text/plain; charset=utf-8", "not found; try GET /metrics\n");
  }
  table.churn();
  return response(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                  tide::memstats_prometheus());
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
  long requests = -1;  // -1: forever
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = parse_number(argv[++i], 65535);
    } else if (arg == "--requests" && i + 1 < argc) {
      requests = parse_number(argv[++i], 1L << 30);
    } else if (arg == "--once") {
      requests = 1;
    } else {
      usage("unknown argument");
    }
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    die("bind 127.0.0.1");
  }
  if (::listen(listener, 16) != 0) die("listen");
  socklen_t length = sizeof address;
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    die("getsockname");
  }
  // The first line of stdout: what a test or a user needs to connect.
  std::printf("listening on http://127.0.0.1:%u/metrics\n", unsigned{ntohs(address.sin_port)});
  std::fflush(stdout);

  user_table table;
  for (long served = 0; requests < 0 || served < requests;) {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    // A client that connects and sends nothing must not hold the (single-threaded) service.
    const timeval timeout{5, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const std::string head = read_request_head(client);
    if (!head.empty()) {
      send_all(client, handle(head, table));
      ++served;
    }
    ::close(client);
  }
  ::close(listener);
  return 0;
}
