"""Notifications: one module per channel behind one small interface."""
