// Fuzzes the selector parser and the regular expression checker. Neither may crash, hang or trip
// a sanitizer on any input; every selector that parses must survive a render and re-parse
// unchanged, since the rendering is what goes into generated rules; and error messages, which end
// up in resource status, must be valid UTF-8 whatever the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "operator/api/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  nines::Result<nines::api::Selector> parsed = nines::api::ParseSelector(input);
  if (parsed.ok()) {
    const std::string rendered = nines::api::RenderSelector(*parsed);
    nines::Result<nines::api::Selector> reparsed = nines::api::ParseSelector(rendered);
    if (!reparsed.ok() || !(*reparsed == *parsed)) abort();
  } else if (!nines::api::IsValidUtf8(parsed.status().message())) {
    abort();
  }

  const nines::Status regex = nines::api::CheckRegex(input);
  if (!nines::api::IsValidUtf8(regex.message())) abort();
  return 0;
}
