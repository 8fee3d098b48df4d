"""Operating the topics: provisioning and watching them, the dead letters and their
redrive, the scorecard versions' topic."""
