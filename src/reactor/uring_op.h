// UringOp: one operation in flight on a reactor::Uring. Its address is the SQE's user_data (the
// completion object owns what the operation needs: buffers, callbacks, a reference that keeps its
// stream alive), and Complete runs exactly once, for its CQE.
#pragma once

namespace nvmpath::reactor {

class UringOp {
 public:
  // `res` is the CQE result (negative errno on failure). `discard`: the reactor is shutting down;
  // release resources, run no user callback.
  virtual void Complete(int res, bool discard) = 0;

 protected:
  ~UringOp() = default;
};

// A stream or listener the reactor must shut down if it is destroyed first.
class UringHandle {
 public:
  // Stops all I/O: no user callback runs after this, in-flight operations end soon.
  virtual void Abort() = 0;

 protected:
  ~UringHandle() = default;
};

}  // namespace nvmpath::reactor
