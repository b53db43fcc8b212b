"""The pure core of the question types beyond choice (issue #15): word cloud, rating scale,
ranking, open text and audience Q&A.

Plain typed functions and data classes, no Quart, no database: the domain modules that store
answers call them, and the API, the pages and the live messages show what they return.
docs/question_types.md describes how they are wired in.
"""
