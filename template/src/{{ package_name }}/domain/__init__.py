"""Processor-neutral payment logic. It never imports a processor SDK."""
