// Keeps SIGPIPE away from the process while this thread talks to a server. OpenSSL writes to the
// socket with write(), which raises SIGPIPE when the peer (or a cancelling shutdown) has closed it,
// and the default action kills the process. A library should not change the process's signal
// dispositions, so the signal is blocked in this thread only, and one it caused is consumed.
//
// Thread-safety: affects only the thread that constructs it; construct and destroy on that thread.
#ifndef NINES_BASE_SIGPIPE_H_
#define NINES_BASE_SIGPIPE_H_

#include <csignal>

namespace nines {

class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  ~ScopedSigpipeBlock();

 private:
  sigset_t sigpipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

}  // namespace nines

#endif  // NINES_BASE_SIGPIPE_H_
