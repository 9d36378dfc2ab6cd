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
``kernel``                running notebooks and single cells in fresh kernels (nbclient)
``grade``                 autograding submissions into JSON and a class CSV
``bundle``                the student bundle
``workdir``               the student's working folder: copies and updates, never overwrites
``lab``                   ``cnnlab lab``: JupyterLab in the working folder
``nbgrader_course``       ``build --nbgrader``: an nbgrader course folder and its config
``nbgrader_feedback``     the feedback step of that config (imports nbconvert; only it uses this)
========================  ================================================================

How to write a lesson source for these tools is in ``CONTRIBUTING.md``.
"""
