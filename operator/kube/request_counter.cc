#include "operator/kube/request_counter.h"

#include <sstream>
#include <string_view>
#include <vector>

namespace nines::kube {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool HasWatchParameter(std::string_view query) {
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view parameter = query.substr(start, end - start);
    if (parameter == "watch=1" || parameter == "watch=true") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

RequestKind ClassifyRequest(const HttpRequest& request, bool stream) {
  const std::string_view full = request.path_and_query;
  const size_t question = full.find('?');
  const std::string_view path = full.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : full.substr(question + 1);

  // /api/v1/... or /apis/GROUP/VERSION/...; then namespaces/NS/ for a namespaced resource.
  std::vector<std::string_view> parts = Segments(path);
  size_t first = parts.size();
  if (!parts.empty() && parts[0] == "api" && parts.size() >= 2) first = 2;
  if (!parts.empty() && parts[0] == "apis" && parts.size() >= 3) first = 3;
  std::vector<std::string_view> rest(parts.begin() + static_cast<std::ptrdiff_t>(first),
                                     parts.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") rest.erase(rest.begin(), rest.begin() + 2);

  RequestKind kind;
  bool collection = true;
  if (!rest.empty()) {
    kind.resource = std::string(rest[0]);
    collection = rest.size() == 1;
    if (rest.size() >= 3) kind.resource += "/" + std::string(rest[2]);
  }
  const std::string& method = request.method;
  if (method == "GET") {
    if (stream || HasWatchParameter(query)) {
      kind.verb = "WATCH";
    } else {
      kind.verb = collection && !kind.resource.empty() ? "LIST" : "GET";
    }
  } else if (method == "PATCH" && request.content_type == "application/apply-patch+yaml") {
    kind.verb = "APPLY";
  } else {
    kind.verb = method;
  }
  return kind;
}

CountingTransport::CountingTransport(std::shared_ptr<HttpTransport> inner)
    : inner_(std::move(inner)) {}

Result<HttpResponse> CountingTransport::Send(const HttpRequest& request) {
  Result<HttpResponse> response = inner_->Send(request);
  Count(request, false, response);
  return response;
}

Result<HttpResponse> CountingTransport::Stream(const HttpRequest& request,
                                               const ChunkHandler& on_chunk, Cancellation* cancel) {
  Result<HttpResponse> response = inner_->Stream(request, on_chunk, cancel);
  Count(request, true, response);
  return response;
}

void CountingTransport::Count(const HttpRequest& request, bool stream,
                              const Result<HttpResponse>& response) {
  RequestKind kind = ClassifyRequest(request, stream);
  // A cancelled watch returns without a status; it was a request all the same.
  std::string code = "error";
  if (response.ok()) code = response->status > 0 ? std::to_string(response->status) : "cancelled";
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[{std::move(kind.verb), std::move(kind.resource), std::move(code)}];
}

std::map<CountingTransport::Key, int64_t> CountingTransport::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

std::string CountingTransport::RenderMetrics() const {
  std::ostringstream out;
  out << "# HELP nines_api_requests_total Requests sent to the Kubernetes API server, by verb, "
         "resource and HTTP status.\n"
      << "# TYPE nines_api_requests_total counter\n";
  for (const auto& [key, count] : Counts()) {
    const auto& [verb, resource, code] = key;
    out << "nines_api_requests_total{verb=\"" << verb << "\",resource=\"" << resource
        << "\",code=\"" << code << "\"} " << count << "\n";
  }
  return out.str();
}

}  // namespace nines::kube
