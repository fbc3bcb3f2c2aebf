"""SAM-PT (SysCV/sam-pt v1, c17ab94): tracked query points as SAM prompts, frame by frame; shared by the DAVIS and
UVO tasks (evals/protocols/__init__.py lists the files). Proven equal to SAM-PT's own loop: tests/test_protocol_parity_davis.py."""
