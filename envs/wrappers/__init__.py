"""Gymnasium wrappers over mmrl envs."""
