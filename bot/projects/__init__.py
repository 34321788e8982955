"""Project requests by mail.

workflow      status answers and invoice copies for verified owners; routing of new jobs,
              technical questions and billing to staff
jobintake     model files from a client's mail become a draft project with its files
requirements  printer, material, layer height, quantity and deadline stated in a message
meshcheck     a preparer's first look at each model file (trimesh)
ziputil       opening client ZIPs safely
"""
