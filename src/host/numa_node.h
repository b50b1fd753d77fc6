// The NUMA node an NVMe/TCP path is near, found as Linux finds a PCIe controller's: the node of
// the device it goes through — here the network device that carries the controller's admin
// connection (the interface holding the connection's local address, then
// /sys/class/net/<interface>/device/numa_node). Loopback, veth and other virtual devices have no
// node; neither does any device on a machine without NUMA (the kernel reports -1). A path with
// no node is equally near every CPU, as Linux treats NUMA_NO_NODE.
//
// Thread: any; reads the file system and the interface list, so call it on the control path.
#pragma once

#include <string>
#include <string_view>

namespace nvmpath::host {

inline constexpr int kNoNumaNode = -1;

// The interface whose address is `local_address` ("lo" for 127.0.0.1); "" if none has it.
std::string InterfaceOfAddress(std::string_view local_address);
// `sysfs_root`/class/net/`interface`/device/numa_node, or kNoNumaNode if it is missing, not a
// number, or negative.
int NumaNodeOfInterface(std::string_view interface, const std::string& sysfs_root = "/sys");
// Both together; kNoNumaNode for an empty address.
int NumaNodeOfLocalAddress(std::string_view local_address);

}  // namespace nvmpath::host
