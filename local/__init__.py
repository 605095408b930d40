"""The local stack: real stand-ins for every cloud service, on loopback."""
