"""The change log's writer and the one rule that brings a suspended key back.

Below grants and credentials, which write credential changes through it; it imports no
room of provisioning (the rows are written by table name, the relay woken by a signal).
"""
