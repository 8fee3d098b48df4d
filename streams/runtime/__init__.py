"""What every service and command runs on: the Kafka and Redis clients made from the
settings, the errors, logging, garbage-collection tuning, the deadline on a stop."""
