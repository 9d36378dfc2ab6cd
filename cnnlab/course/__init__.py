"""Course tooling: ``cnnlab build``, ``cnnlab validate``, ``cnnlab grade`` and ``cnnlab lab``.

========================  ================================================================
module                    holds
========================  ================================================================
``notebook``              reading/writing notebooks, nbgrader metadata, markers, checksums
``lessons``               the course root, the lessons, problems as one-line messages
``build``                 source -> student notebook; ``--execute`` of the sources
``release``               the build hash: a notebook build wrote vs one a person changed
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
``workdir``               the student's working folder: copies and updates, never overwrites
``lab``                   ``cnnlab lab``: JupyterLab in the working folder
``nbgrader_course``       ``build --nbgrader``: an nbgrader course folder and its config
``nbgrader_feedback``     the feedback step of that config (imports nbconvert; only it uses this)
========================  ================================================================

How to write a lesson source for these tools is in ``CONTRIBUTING.md``.
"""
