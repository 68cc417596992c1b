"""Mixture optimisation (MoDoMoDo): see the mixtures issue."""
