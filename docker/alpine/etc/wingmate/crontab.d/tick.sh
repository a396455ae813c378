#!/bin/sh
echo "tick at $(date +%H:%M:%S)"
