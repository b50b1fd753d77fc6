#include "reactor/reactor.h"

namespace nvmpath::reactor {
namespace {
thread_local Reactor* t_current = nullptr;
}  // namespace

Reactor* Current() { return t_current; }
void internal::SetCurrent(Reactor* r) { t_current = r; }

}  // namespace nvmpath::reactor
