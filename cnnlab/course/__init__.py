"""Course tooling: ``cnnlab build``, ``cnnlab validate`` and ``cnnlab grade``.

========================  ================================================================
module                    holds
========================  ================================================================
``notebook``              reading/writing notebooks, nbgrader metadata, markers, checksums
``lessons``               the course root, the lessons, problems as one-line messages
``build``                 source -> student notebook; ``--execute`` of the sources
``validate``              source checks, notebooks/ in sync, no leaks
``leaks``                 what counts as solution or hidden-test text
``kernel``                running notebooks and single cells in fresh kernels (nbclient)
``grade``                 autograding submissions into JSON and a class CSV
``bundle``                the student bundle
========================  ================================================================

How to write a lesson source for these tools is in ``CONTRIBUTING.md``.
"""
