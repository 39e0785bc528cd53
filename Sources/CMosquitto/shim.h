// libmosquitto (Eclipse Mosquitto's MQTT client library, Debian libmosquitto-dev): the MQTT 3.1.1 client synxd
// publishes with (Sources/SynxMQTT).
#include <mosquitto.h>
