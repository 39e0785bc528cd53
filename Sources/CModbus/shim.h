// Why: libmodbus's headers live under <modbus/>; this one header is the whole C surface synx uses.
// The float helpers of libmodbus 3.1.6 are wrong on some platforms, so synx decodes registers in Swift
// and uses none of them.
#include <modbus/modbus.h>
#include <modbus/modbus-rtu.h>
#include <modbus/modbus-tcp.h>
