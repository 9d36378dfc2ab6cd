"""Course tooling: ``cnnlab build``, ``cnnlab validate`` and ``cnnlab grade``.

========================  ================================================================
module                    holds
========================  ================================================================
``notebook``              reading/writing notebooks, nbgrader metadata, markers, checksums
``lessons``               the course root, the lessons, problems as one-line messages
``build``                 source -> student notebook; ``--execute`` of the sources
``validate``              source checks, notebooks/ in sync, no leaks
``leaks``                 what counts as solution or hidden-test text
``kernel``                running notebooks and single cells in fresh kernels
``sandbox``               the bubblewrap sandbox of a grading kernel
``limits``                processes and memory of a kernel, capped as a group (cgroups)
``submission``            reading a submission, its lesson, restoring its cells
``scan``                  student cells that reach cnnlab's own implementation of an exercise
``recheck``               the grader's own verdict: fresh and hidden cases, judged here
``grade``                 autograding submissions into JSON, a class CSV and the report
``report``                the class report (HTML and JSON)
``bundle``                the student bundle
========================  ================================================================

How to write a lesson source for these tools is in ``CONTRIBUTING.md``.
"""
