"""Safe XML reading and exact XML writing shared by the XML formats."""
