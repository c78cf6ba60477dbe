// Reads ServiceLevelObjective resources from YAML or JSON text (one document or many) and validates
// them into checked SloSpecs. Every problem is reported as a FieldError with the file, the line and
// the field path, and a resource with any error yields no spec at all, so nothing half-checked can
// reach generation. Exceptions from yaml-cpp stop here.
//
// Thread-safety: pure functions over values; safe to call from any thread.
#ifndef NINES_API_RESOURCE_PARSER_H_
#define NINES_API_RESOURCE_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "operator/api/duration.h"
#include "operator/api/slo_spec.h"

namespace nines::api {

// Limits on every string and list, chosen so that no resource can generate an object over the
// 512 KiB that prometheus-operator accepts (tests/slo/rule_generator_test.cc checks the worst
// case).
inline constexpr size_t kMaxNameLength = 63;  // the name is also a Kubernetes label value
inline constexpr size_t kMaxServiceLength = 128;
inline constexpr size_t kMaxDescriptionLength = 1024;
inline constexpr size_t kMaxLabels = 16;
inline constexpr size_t kMaxLabelNameLength = 63;
inline constexpr size_t kMaxLabelValueLength = 128;
inline constexpr size_t kMaxAnnotations = 8;
inline constexpr size_t kMaxAnnotationValueLength = 1024;
inline constexpr size_t kMaxSelectorLength = 1024;
inline constexpr size_t kMaxMatchers = 16;
inline constexpr size_t kMaxExpressionLength = 2048;
inline constexpr size_t kMaxTiers = 4;
inline constexpr int64_t kMaxMinEvents = 1'000'000'000;
inline constexpr Duration kMinWindow = Duration::Days(1);
inline constexpr Duration kMaxWindow = Duration::Days(90);
inline constexpr Duration kMinSlice = Duration::Seconds(10);
inline constexpr Duration kMaxSlice = Duration::Hours(1);
inline constexpr Duration kMaxLatencyThreshold = Duration::Hours(1);

struct FieldError {
  std::string file;
  int line = 0;      // 1-based; 0 when unknown
  std::string path;  // `spec.indicator.ratio.bad`, or `metadata.name`
  std::string message;

  // `FILE:LINE: PATH: message`, the form `nines validate` prints.
  std::string ToString() const;
  bool operator==(const FieldError&) const = default;
};

struct ParseOptions {
  // No alert window may be shorter than this: rate() needs at least two scrapes in its range.
  Duration min_rate_window = Duration::Minutes(2);
  // For resources that name no namespace, as kubectl does.
  std::string default_namespace = "default";
};

struct ParsedResources {
  std::vector<SloSpec> slos;       // the valid ServiceLevelObjectives, in document order
  std::vector<FieldError> errors;  // every problem of every invalid one
  int other_documents = 0;         // documents of other kinds, skipped (a GitOps folder has many)
};

// Parses every document in `text`. `file` names the source in errors and in SloSpec::source_file.
ParsedResources ParseResources(std::string_view text, std::string_view file,
                               const ParseOptions& options = {});

// The default burn-rate tiers of the SRE Workbook for a 30-day window, scaled by window / 30d
// (the burn-rate factors stay, so each tier still spends the same share of the budget), with no
// window shorter than `min_rate_window`.
std::vector<BurnTier> DefaultFastBurnTiers(Duration window, Duration min_rate_window);
std::vector<BurnTier> DefaultSlowBurnTiers(Duration window, Duration min_rate_window);

// Parses the objective as written ("99.9"); the error message says what is wrong.
Result<Objective> ParseObjective(std::string_view text);

}  // namespace nines::api

#endif  // NINES_API_RESOURCE_PARSER_H_
