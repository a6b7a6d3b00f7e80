"""Field-bus side of the controller: Modbus links, decoding and command writing."""
