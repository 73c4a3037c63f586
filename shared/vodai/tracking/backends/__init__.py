"""Tracking store backends: memory:// (tests), sqlite:/// (local default), redis:// (production)."""
