"""Plots, drawn from the numbers the services return (services compute; the app draws): one module per
tab or view that has plots."""
